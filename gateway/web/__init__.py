"""The web application: server-rendered pages under `/` for participants and contact points.

Pages call the services with the same RPCs and the same permission checks as the JSON API
(`Routes._call`, with the token kept in a session cookie instead of a bearer header).
"""
