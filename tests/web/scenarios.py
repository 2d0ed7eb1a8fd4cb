"""What people do in the browser, as scenarios the driver runs in its own process (Playwright's
sync API cannot share a process with eventlet, which the test suite and the gateway use)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

from tests.helpers import MINIMAL_PDF, PASSWORD, unique_email
from tests.web.browser import Person, status_of


def tick(page: Any, selector: str) -> None:
    """Tick a checkbox as a person does: on its label (the component draws the box)."""
    page.locator(f"label[for='{selector.removeprefix('#')}']").click()
    assert page.is_checked(selector), selector


def _monday(after_days: int) -> date:
    start = date.today() + timedelta(days=after_days)
    return start + timedelta(days=(7 - start.weekday()) % 7)


def sign_up(person: Person, full_name: str, shots: bool = False) -> str:
    """Signing up answers "check your email": no session yet."""
    email = unique_email(full_name.split()[0].lower())
    person.goto("/", "01-home" if shots else None)
    with person.page.expect_navigation():
        person.page.get_by_role("link", name="Create an account").first.click()
    person.check("02-sign-up" if shots else None)
    person.page.fill("#full_name", full_name)
    person.page.fill("#email", email)
    person.page.fill("#password", PASSWORD)
    person.press("Create my account")
    assert "Check your email" in person.page.inner_text("h1")
    assert email in person.page.inner_text("#check-email")
    person.check("02-check-email" if shots else None)
    return email


def email_link(links: dict[str, Any], email: str, event_type: str) -> str:
    """The token the account email's link carries, computed as registration computes it
    (tests/helpers.quick_link): the person "opens the email"."""
    from sqlalchemy import text

    from tests.helpers import _engine, quick_link

    with _engine(links["DATABASE_URLS"]["registration"]).connect() as conn:
        account_id = conn.execute(text("SELECT id FROM accounts WHERE email = :e"),
                                  {"e": email.lower()}).scalar_one()
    return quick_link(links, account_id, event_type)


def verify_then_sign_in(person: Person, links: dict[str, Any], email: str,
                        shots: bool = False) -> None:
    """The verification link followed signed out: verified, then signing in continues to
    the registration."""
    token = email_link(links, email, "email_verification_requested")
    person.goto(f"/account/verify?token={token}", "02-email-verified" if shots else None)
    assert "verified" in person.page.inner_text("h1")
    person.follow(person.page.get_by_role("link", name="Sign in and continue"))
    person.page.get_by_label("Email").fill(email)
    person.page.get_by_label("Password").fill(PASSWORD)
    person.press("Sign in")
    assert person.page.url.endswith("/registration/new"), person.page.url


def register(person: Person, tmp_path: Any, partnership: str, country: str, role: str,
             organisation: str, words: str, shots: bool = False,
             verify_now: Any = None) -> None:
    """The wizard, step by step; `verify_now`: the address is verified only on the last step
    (the link followed while signed in)."""
    page = person.page
    page.select_option("#partnership_id", label=partnership)
    tick(page, f"#roles-{role}")
    page.fill("#organisation-name", organisation)
    page.select_option("#organisation-type", "cluster_organisation")
    page.select_option("#organisation-country", country)
    page.fill("#organisation-city", "Porto" if country == "PT" else "Chemnitz")
    person.check("03-wizard-organisation" if shots else None)
    person.press("Save and continue")
    assert page.url.endswith("/representative"), page.url

    page.fill("#representative-first_name", "Ana")
    page.fill("#representative-last_name", "Ferreira")
    page.fill("#representative-email", unique_email("rep"))
    page.fill("#representative-date_of_birth", "1986-03-14")
    page.select_option("#representative-nationality", country)
    person.check("04-wizard-representative" if shots else None)
    person.press("Save and continue")

    page.fill("#motivation", words)
    person.press("Save and continue")

    for box in ("#preferences-sectors-textiles", "#preferences-objectives-learn",
                "#preferences-activity_types-knowledge_sharing", "#preferences-modes-physical",
                "#preferences-languages-en"):
        tick(page, box)
    start = date.today() + timedelta(days=30)
    page.fill("#preferences-availability-0-start", start.isoformat())
    page.fill("#preferences-availability-0-end", (start + timedelta(days=90)).isoformat())
    if role == "host":
        page.fill("#preferences-host_capacity", "2")
    person.check("05-wizard-preferences" if shots else None)
    person.press("Save and continue")
    assert page.url.endswith("/cv"), page.url

    cv = tmp_path / f"cv-{organisation.split()[0]}.pdf"
    cv.write_bytes(MINIMAL_PDF)
    page.set_input_files("#file", str(cv))
    person.press("Save and continue")
    assert page.url.endswith("/review"), page.url
    rules = page.locator("#eligibility .cxc-rule--unmet")
    assert rules.count() == 0, rules.all_inner_texts()
    person.check("06-wizard-review" if shots else None)
    if verify_now is not None:
        # Not verified yet: the step says so, and submitting is refused until it is.
        assert page.locator("#verify-first").count() == 1
        review = page.url
        person.press("Submit my registration")
        assert "Verify your email" in page.inner_text("#form-errors")
        person.check("06-wizard-verify-first" if shots else None)
        verify_now()
        assert "email address is verified" in page.inner_text(".cxc-notification"), page.url
        person.goto(review)
    assert page.locator("#verify-first").count() == 0
    person.press("Submit my registration")
    assert "submitted" in status_of(page, "#registration-status")
    person.check("07-dashboard-submitted" if shots else None)


def check_eligibility_first(person: Person) -> None:
    """Before signing up: the partnerships, and the eligibility checker (htmx answers in place;
    a missing field is said next to it)."""
    person.goto("/partnerships", "00-partnerships")
    page = person.goto("/eligibility")
    tick(page, "#roles-visitor")
    page.select_option("#organisation-type", "cluster_organisation")
    page.click("button[type=submit]")
    page.wait_for_selector("#answer #form-errors")
    assert page.locator("#organisation-country-error").count() == 0  # in the summary, linked
    assert "Organisation: country" in page.inner_text("#answer")
    page.select_option("#organisation-country", "DE")
    page.fill("#representative-date_of_birth", "1986-03-14")
    page.select_option("#representative-nationality", "DE")
    page.click("button[type=submit]")
    page.wait_for_selector("#answer .cxc-verdict--yes")
    assert page.url.endswith("/eligibility")  # answered in place
    person.check("01-eligibility")


def accept(contact_point: Person, organisation: str, shots: bool = False) -> None:
    contact_point.goto("/contact-point", "10-cp-queue" if shots else None)
    contact_point.follow(contact_point.page.get_by_role("row").filter(has_text=organisation)
                         .get_by_role("link"))
    contact_point.check("11-cp-assess" if shots else None)
    contact_point.page.fill("#comment", "Welcome to the scheme.")
    contact_point.press("Accept")
    assert "accepted" in contact_point.page.inner_text(".cxc-notification")


def read_the_inbox(person: Person) -> None:
    """The acceptance reaches the inbox: the bell counts it, the inbox shows it unread first;
    marked read, the count goes; the email preferences are saved."""
    person.goto("/notifications")
    person.reload_until(lambda page: page.locator(".cxc-notice--unread").count() > 0)
    unread = person.page.locator(".cxc-notice--unread").count()
    assert "unread notification" in person.page.inner_text("#bell")
    assert person.page.locator(".cxc-notice").first.get_attribute("class").endswith("--unread")
    person.check("12-inbox")
    person.press("Mark all as read")
    assert person.page.locator(".cxc-notice--unread").count() == 0, unread
    assert person.page.inner_text("#bell").strip() == "Notifications"
    person.follow(person.page.get_by_role("link", name="Which notifications also come by email"))
    boxes = person.page.locator("#email_kinds input[type=checkbox]")
    assert boxes.count() > 0
    first = boxes.first.get_attribute("id")
    was = person.page.is_checked(f"#{first}")
    person.page.locator(f"label[for='{first}']").click()
    person.check("12-notification-preferences")
    person.press("Save my preferences")
    assert "preferences are saved" in person.page.inner_text(".cxc-notification")
    assert person.page.is_checked(f"#{first}") is not was


PEOPLE = ("visitor", "host", "vop", "hop")


def journey(browser: Any, args: dict[str, Any]) -> dict[str, str]:
    """A visitor and a host from sign-up to a commitment signed by four parties."""
    base, tmp_path, contact_points = args["base"], args["tmp"], args["contact_points"]
    people = {who: Person(browser, base, who) for who in PEOPLE}
    visitor, host, vop, hop = (people[w] for w in ("visitor", "host", "vop", "hop"))
    for who in ("vop", "hop"):
        people[who].sign_in(contact_points[who], PASSWORD)
        assert people[who].page.url.endswith("/contact-point")

    check_eligibility_first(visitor)
    email = sign_up(visitor, "Ana Ferreira", shots=True)
    verify_then_sign_in(visitor, args["links"], email, shots=True)
    register(visitor, tmp_path, "Circular Textiles Partnership", "DE", "visitor",
             "Textil Cluster Süd", "We study circular textile recycling.", shots=True)
    # The host signs in before verifying, and follows the link from the wizard's last step.
    email = sign_up(host, "Jonas Weber")
    host.sign_in(email, PASSWORD)
    host.goto("/registration/new")

    def host_verifies() -> None:
        token = email_link(args["links"], email, "email_verification_requested")
        host.goto(f"/account/verify?token={token}")

    register(host, tmp_path, "Green Mobility Cluster Partnership", "PT", "host",
             "Cluster Têxtil Norte", "Our members run textile recycling plants.",
             verify_now=host_verifies)

    accept(vop, "Textil Cluster Süd", shots=True)
    accept(hop, "Cluster Têxtil Norte")
    visitor.goto("/dashboard", "12-dashboard-accepted")
    assert "accepted" in status_of(visitor.page, "#registration-status")
    assert "Welcome to the scheme." in visitor.page.inner_text("#assessment")
    read_the_inbox(visitor)

    # The visitor finds the host among the best matches, with a score and its reasons.
    visitor.goto("/matches")
    visitor.reload_until(lambda page: page.locator(".cxc-match").count() > 0)
    match = visitor.page.locator(".cxc-match").filter(has_text="Cluster Têxtil Norte")
    assert int(match.locator(".cxc-score").inner_text()) > 0
    assert match.locator(".cxc-reasons li").count() > 0
    visitor.check("13-matches")
    visitor.goto("/catalogue?q=recycling", "14-catalogue")
    assert "Cluster Têxtil Norte" in visitor.page.inner_text("#results")
    visitor.goto("/matches")
    match = visitor.page.locator(".cxc-match").filter(has_text="Cluster Têxtil Norte")
    match.locator("textarea").fill("Could we visit your plants in the spring?")
    with visitor.page.expect_navigation():
        match.get_by_role("button", name="Ask for contact").click()
    visitor.check()

    host.goto("/contacts", "15-contacts")
    host.follow(host.page.get_by_role("link", name="Textil Cluster Süd"))
    host.press("Accept")
    host.page.fill("#body", "Gladly: the second week of the month suits us.")
    host.press("Send", navigates=False)
    host.page.wait_for_function("document.querySelector('#conversation').innerText.includes('Gladly')")
    assert "Gladly" in host.page.inner_text("#conversation")
    host.check("16-conversation")

    # The visitor proposes the exchange from the conversation.
    visitor.goto("/contacts")
    visitor.follow(visitor.page.get_by_role("link", name="Cluster Têxtil Norte"))
    visitor.follow(visitor.page.get_by_role("link", name="Propose an exchange"))
    visitor.check("17-exchange-builder")
    page = visitor.page
    start = _monday(60)
    page.fill("#plan-start_date", start.isoformat())
    page.fill("#plan-end_date", (start + timedelta(days=4)).isoformat())
    for box in ("#plan-objectives-learn", "#plan-activity_types-knowledge_sharing",
                "#plan-activity_types-networking", "#plan-languages-en"):
        tick(page, box)
    page.fill("#action-0-date", start.isoformat())
    page.fill("#action-0-title", "Visit of the recycling plants")
    page.fill("#action-1-date", (start + timedelta(days=1)).isoformat())
    page.fill("#action-1-title", "Workshop with the cluster's members")
    page.fill("#plan-expected_outcomes", "A joint project on textile recycling.")
    page.fill("#plan-responsibilities-visitor", "Present our circular programme.")
    page.fill("#plan-responsibilities-host", "Organise the visits and the workshop.")
    visitor.press("Send the proposal")
    exchange_url = page.url
    assert "proposed" in status_of(page, "#exchange-status")
    assert page.inner_text("#working-days-count").strip() == "5"

    host.page.goto(exchange_url)
    host.check()
    host.press("Confirm the proposal")
    assert "draft" in status_of(host.page, "#exchange-status")

    # Editing the plan counts the working days as the dates are typed (htmx).
    visitor.page.goto(exchange_url)
    visitor.follow(visitor.page.get_by_role("link", name="Edit the plan"))
    visitor.page.fill("#plan-end_date", (start + timedelta(days=6)).isoformat())
    visitor.page.locator("#plan-end_date").dispatch_event("change")
    visitor.page.wait_for_function(
        "document.querySelector('#working-days').innerText.includes('7 calendar days')")
    assert "5 working days" in visitor.page.inner_text("#working-days")
    visitor.check("18-plan-working-days")
    visitor.page.fill("#plan-end_date", (start + timedelta(days=4)).isoformat())
    visitor.press("Save the plan")
    visitor.press("Submit to both partnerships")
    assert "submitted" in status_of(visitor.page, "#exchange-status")

    for contact_point in (vop, hop):
        contact_point.goto("/contact-point/exchanges", "19-cp-exchanges" if contact_point is vop
                           else None)
        contact_point.follow(contact_point.page.get_by_role(
            "link", name=page.inner_text("h1").split()[-1]).first)
        contact_point.press("Approve the plan")
    assert "validated" in status_of(hop.page, "#exchange-status")

    # Each of the four parties reads the document and signs it.
    for who in ("visitor", "host", "vop", "hop"):
        person = people[who]
        person.page.goto(exchange_url)
        person.check()
        with person.page.expect_download() as download:
            person.page.get_by_role("link", name="Download the commitment to quality (PDF)").click()
        pdf = download.value.path()
        assert Path(pdf).read_bytes()[:5] == b"%PDF-"
        tick(person.page, "#read-document")
        person.press("Sign the commitment")
    assert "signed" in status_of(hop.page, "#exchange-status")
    signed = hop.page.locator("#signatures tbody tr")
    assert signed.count() == 4 and all("✓" in row for row in signed.all_inner_texts())
    hop.check("20-exchange-signed")
    visitor.page.goto(exchange_url)
    visitor.check("21-exchange-visitor-view")

    for who, person in people.items():
        assert person.checked, person.name
        person.save(args["state"] / f"{who}.json")
        person.context.close()
    return {"exchange": exchange_url.rsplit("/", 1)[-1]}


def keyboard(browser: Any, args: dict[str, Any]) -> None:
    """The registration wizard with the keyboard alone: every field reachable with Tab,
    focus visible, errors focused and tied to their fields."""
    person = Person(browser, args["base"], "keyboard")
    person.sign_in(sign_up(person, "Kai Keyboard"), PASSWORD)  # a draft needs no verified address
    person.goto("/registration/new")
    page = person.page
    keyboard = page.keyboard

    def tab_to(element_id: str) -> None:
        for _ in range(80):
            keyboard.press("Tab")
            focused = page.evaluate("document.activeElement && document.activeElement.id")
            if focused == element_id:
                outline = page.evaluate("""() => { const s = getComputedStyle(document.activeElement);
                    return s.outlineStyle !== 'none' || s.boxShadow !== 'none'; }""")
                assert outline, f"#{element_id} shows no focus"
                return
        raise AssertionError(f"#{element_id} cannot be reached with Tab")

    # Sending the first step empty: the errors are listed, focused, and tied to their fields.
    tab_to("organisation-description")
    keyboard.press("Tab")  # the submit button
    person.submit_with_enter()
    assert page.evaluate("document.activeElement.id") == "form-errors"
    invalid = page.locator("[aria-invalid=true]")
    assert invalid.count() > 0
    described = invalid.first.get_attribute("aria-describedby")
    assert described and page.locator(f"#{described.split()[-1]}").is_visible()
    person.check("08-wizard-errors")

    tab_to("partnership_id")
    keyboard.press("ArrowDown")  # the first partnership
    tab_to("roles-visitor")
    keyboard.press("Space")
    tab_to("organisation-name")
    keyboard.type("Keyboard Cluster")
    tab_to("organisation-type")
    keyboard.type("Cluster organisation")
    tab_to("organisation-country")
    keyboard.type("Portugal")
    tab_to("organisation-city")
    keyboard.type("Lisbon")
    person.submit_with_enter()
    assert page.url.endswith("/representative"), page.url
    tab_to("representative-first_name")
    keyboard.type("Kai")
    tab_to("representative-last_name")
    keyboard.type("Keyboard")
    person.submit_with_enter()
    assert page.url.endswith("/motivation"), page.url
    tab_to("motivation")
    keyboard.type("Learning how other clusters work.")
    tab_to("expertise")
    keyboard.press("Tab")
    person.submit_with_enter()
    assert page.url.endswith("/preferences"), page.url
    assert page.locator("#eligibility .cxc-rule--met").count() > 0
    person.context.close()


def agreement(browser: Any, args: dict[str, Any]) -> None:
    """The signed exchange's financial agreement: the visitor's bank account and signature,
    then its partnership's; the exchange is ready."""
    people = {who: Person(browser, args["base"], who, args["state"] / f"{who}.json")
              for who in ("visitor", "vop")}
    visitor, vop = people["visitor"], people["vop"]
    path = f"/exchanges/{args['exchange']}"
    visitor.goto(path)
    visitor.reload_until(lambda page: page.locator("#fa-title").count() > 0)
    visitor.page.fill("#account_holder", "Textil Cluster Süd")
    visitor.page.fill("#iban", "DE89 3704 0044 0532 0130 00")
    visitor.press("Save the bank account")
    assert "Textil Cluster Süd DE" in visitor.page.inner_text("#fa-title + dl")  # holder, IBAN masked
    visitor.check("22-financial-agreement")
    visitor.press("Sign the financial agreement")
    vop.goto(path)
    vop.press("Sign the financial agreement")
    assert "ready" in status_of(vop.page, "#exchange-status")
    for who, person in people.items():
        person.save(args["state"] / f"{who}.json")


def administration(browser: Any, args: dict[str, Any]) -> None:
    """An administrator gives the visitor's partnership its envelope and the bank account its
    payment runs are paid from, and looks at the lump-sum table with a quote."""
    admin = Person(browser, args["base"], "admin")
    admin.sign_in(args["admin"], PASSWORD)
    admin.follow(admin.page.get_by_role("link", name="Administration"))
    admin.check("40-admin")
    admin.follow(admin.page.get_by_role("link", name="Partnership budgets"))
    admin.goto(f"/admin/budgets/{args['partnership']}")
    admin.page.fill("#budget", "5000")
    admin.press("Set the envelope")
    assert "€5,000.00" in admin.page.inner_text("#budget-figures")
    admin.page.fill("#name", "TEXCIRC Partnership")
    admin.page.fill("#iban", "FR14 2004 1010 0505 0001 3M02 606")
    admin.press("Save the bank account")
    assert "606" in admin.page.inner_text("#debtor-account")
    admin.check("41-admin-budget")
    admin.goto("/admin/budgets", "42-admin-budgets")
    admin.goto("/admin/lump-sums")
    admin.page.select_option("#host_country", "PT")
    admin.page.fill("#distance_km", "1500")
    admin.page.locator("#quote strong").get_by_text("€780.00").wait_for()  # htmx, as fields change
    admin.check("43-admin-lump-sums")
    admin.goto("/admin/dashboard", "44-admin-dashboard")
    admin.context.close()


def payment(browser: Any, args: dict[str, Any]) -> None:
    """After the stay: the closing report, the evidence and the claim; the contact point
    approves it, prepares the payment run, downloads its SEPA file and marks it paid."""
    people = {who: Person(browser, args["base"], who, args["state"] / f"{who}.json")
              for who in ("visitor", "vop")}
    visitor, vop = people["visitor"], people["vop"]
    path = f"/exchanges/{args['exchange']}"
    visitor.goto(path)
    visitor.page.select_option("#satisfaction", "5")
    visitor.page.fill("#follow_up", "A joint project proposal in the spring.")
    visitor.check("23-closing-report")
    visitor.press("Submit the closing report")
    assert "reported" in status_of(visitor.page, "#exchange-status")
    visitor.reload_until(lambda page: page.locator("#claim-title").count() > 0)
    evidence = args["tmp"] / "boarding-pass.pdf"
    evidence.write_bytes(MINIMAL_PDF)
    visitor.page.set_input_files("#file", str(evidence))
    visitor.press("Add the evidence")
    assert "boarding-pass.pdf" in visitor.page.inner_text("#claim-title + dl")
    visitor.press("Submit the payment claim")
    visitor.check("24-payment-claim")

    vop.goto("/contact-point/payments")
    vop.follow(vop.page.get_by_role("link", name=vop.page.locator(
        "main li a").first.inner_text()))
    vop.check("25-cp-claim")
    with vop.page.expect_download() as download:
        vop.page.get_by_role("link", name="boarding-pass.pdf").click()
    assert Path(download.value.path()).read_bytes() == MINIMAL_PDF
    vop.page.fill("#comment", "Everything is there.")
    vop.press("Approve the claim")
    vop.press("Prepare a payment run of the approved payouts")
    vop.check("26-cp-payments")
    with vop.page.expect_download() as download:
        vop.page.get_by_role("link", name="Download the SEPA file (pain.001)").first.click()
    sepa = Path(download.value.path()).read_text()
    assert "pain.001" in sepa and "CstmrCdtTrfInitn" in sepa
    vop.press("The bank executed it: mark as paid")
    visitor.goto(path)
    visitor.reload_until(lambda page: "closed" in status_of(page, "#exchange-status"))
    assert "paid" in visitor.page.inner_text("#claim-title + dl").lower()
    visitor.check("27-exchange-paid")
    visitor.follow(visitor.page.get_by_role("link", name="Every step so far"))
    assert "The bank paid €780.00" in visitor.page.inner_text("#timeline")
    visitor.check("28-exchange-timeline")
    vop.goto("/contact-point/budget")
    assert vop.page.locator("svg[role=img]").count() == 3
    vop.page.locator("#budget-history summary").click()  # the figures as a table
    vop.check("29-cp-budget")


def account_and_support(browser: Any, args: dict[str, Any]) -> None:
    """A forgotten password reset from its link; the support desk: a question with a
    screenshot, its conversation, a meeting booked; the agent's queue answers it."""
    person = Person(browser, args["base"], "support")
    email = args["participant"]
    person.goto("/sign-in")
    person.follow(person.page.get_by_role("link", name="Forgot your password?"))
    person.check("30-reset-request")
    person.page.get_by_label("Email").fill(email)
    person.press("Send me a link")
    assert "Check your email" in person.page.inner_text("h1")
    token = email_link(args["links"], email, "password_reset_requested")
    person.goto(f"/account/reset?token={token}", "31-reset-new-password")
    new_password = "a brand new passphrase"
    person.page.get_by_label("New password").fill(new_password)
    person.press("Change my password")
    assert person.page.url.endswith("/sign-in")
    person.sign_in(email, new_password)
    assert "Signed in as" in person.page.inner_text("header")

    person.follow(person.page.get_by_role("link", name="Support", exact=True))
    person.check("32-support-ask")
    person.page.fill("#subject", "My CV upload stops")
    person.page.fill("#text", "The upload stops at 80 %.")
    shot = args["tmp"] / "screen.png"
    person.page.screenshot(path=str(shot))
    person.page.set_input_files("#screenshot", str(shot))
    person.press("Send my question")
    assert "My CV upload stops" in person.page.inner_text("h1")
    query_url = person.page.url
    person.check("33-support-query")
    person.goto("/support/meetings")
    person.page.select_option("#start", index=1)
    person.page.fill("#topic", "The CV upload")
    person.press("Book this slot")
    assert "The CV upload" in person.page.inner_text("#meetings")
    person.check("34-support-meetings")

    agent = Person(browser, args["base"], "agent")
    agent.sign_in(args["agent"], PASSWORD)
    agent.goto("/support/queries", "35-support-queue")
    agent.follow(agent.page.get_by_role("link", name="My CV upload stops"))
    agent.page.fill("#text", "Try a PDF under 5 MB.")
    agent.press("Send the answer")
    assert "Try a PDF under 5 MB." in agent.page.inner_text("#conversation")
    person.page.goto(query_url)
    person.check()
    assert "Try a PDF under 5 MB." in person.page.inner_text("#conversation")
    person.follow(person.page.get_by_role("link", name="Signed in as"))
    person.check("36-account")
    person.press("Sign out everywhere")
    assert person.page.url.rstrip("/") == args["base"].rstrip("/")
    person.page.goto("/notifications")
    assert "/sign-in" in person.page.url

    # The administrators' account pages, through axe and into the screenshots.
    admin = Person(browser, args["base"], "admin")
    admin.sign_in(args["admin"], PASSWORD)
    admin.follow(admin.page.get_by_role("link", name="Administration", exact=True))
    admin.follow(admin.page.get_by_role("link", name="Accounts and roles"))
    admin.check("36-admin-accounts")
    admin.page.fill("#q", args["agent"])
    admin.press("Filter")
    admin.follow(admin.page.locator("#accounts a").first)
    admin.check("37-admin-account")
    admin.goto("/admin/accounts/invite", "38-admin-invite")


SCENARIOS = {"journey": journey, "support": account_and_support, "keyboard": keyboard, "agreement": agreement,
             "payment": payment, "administration": administration}
