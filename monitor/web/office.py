"""The duty office's working pages beside the now page (issue 18 item 5): triage queue (/triage), duty roster
(/roster), response ledger (/ledger), sources health (/sources) and statistics (/stats), each with its JSON API,
and the OpenAPI document of the whole API (/api/openapi.json). One module per page, their shared helpers in
office_kit.py; this one registers them all. Sign-in and the liaison's own-department rule are enforced by the middleware
(monitor/web/security.py) for incident paths and by each handler for its lists."""

from __future__ import annotations

from aiohttp import web


def add_routes(web_app: web.Application) -> None:
    from monitor.web import ledger_page, openapi, roster_page, sources_page, stats_page, triage_page

    for module in (triage_page, roster_page, ledger_page, sources_page, stats_page, openapi):
        module.add_routes(web_app)
