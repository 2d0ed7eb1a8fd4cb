"""The dashboards name states in the page's language, like every other page."""

from __future__ import annotations

from gateway.web.dashboards import state_names
from gateway.web.i18n import translations


def test_states_are_words_in_the_page_language():
    assert state_names(translations("en").gettext)("changes_requested") == "changes requested"
    french = state_names(translations("fr").gettext)
    assert french("closed") == translations("fr").gettext("closed") != "closed"
    assert french("a_new_state") == "a new state"  # a code no label knows yet stays readable
