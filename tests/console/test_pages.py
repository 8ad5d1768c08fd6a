"""The console's own 404 and 403 pages (with DEBUG too), status labels in words, totals on lists, and the
exports list that refreshes itself while an export is being built."""

from __future__ import annotations

import html
import re
import uuid

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import Client, RequestFactory

from console.middleware import ConsoleSecurityHeadersMiddleware
from gdpr import services as gdpr_services
from gdpr.models import DataRequest
from tests.console.conftest import htmx


@pytest.fixture(params=[False, True], ids=["debug-off", "debug-on"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


class TestNotFound:
    def test_unknown_console_address(self, debug, staff_client):
        response = staff_client.get("/console/no-such-page/")
        body = response.content.decode()
        assert response.status_code == 404
        assert "<h1>Not found</h1>" in body and 'href="/console/users/"' in body  # the console's layout
        assert "Technical" not in body and "URLconf" not in body  # not Django's debug page
        assert "default-src 'self'" in response["Content-Security-Policy"]

    def test_unknown_object(self, debug, staff_client):
        for url in (f"/console/users/{uuid.uuid4()}/", f"/console/webhooks/{uuid.uuid4()}/"):
            response = staff_client.get(url)
            body = response.content.decode()
            assert response.status_code in (403, 404), url
            if response.status_code == 404:
                assert "<h1>Not found</h1>" in body and "Technical" not in body and "Http404" not in body

    def test_htmx_gets_the_message_alone(self, debug, staff_client):
        response = staff_client.get(f"/console/users/{uuid.uuid4()}/", headers=htmx("detail"))
        body = response.content.decode()
        assert response.status_code == 404
        assert body.strip().startswith('<div class="notfound" role="alert">') and "<html" not in body

    def test_anonymous_gets_it_without_the_navigation(self, debug, db):
        response = Client().get("/console/no-such-page/")
        assert response.status_code == 404
        assert b"<h1>Not found</h1>" in response.content and b'href="/console/users/"' not in response.content

    def test_a_missing_slash_still_redirects(self, debug, staff_client):
        response = staff_client.get("/console/users")
        assert response.status_code == 301 and response["Location"] == "/console/users/"

    def test_other_paths_keep_their_own_404(self, debug, db):
        response = Client().get("/no-such-page/")
        assert response.status_code == 404 and b"<h1>Not found</h1>" not in response.content
        assert "Content-Security-Policy" not in response


class TestForbidden:
    def test_non_staff(self, debug, make_user):
        from tests.console.conftest import client_for

        response = client_for(make_user(email="plain@example.com")).get("/console/")
        assert response.status_code == 403 and b"<h1>Forbidden</h1>" in response.content

    @pytest.mark.parametrize("exception", [PermissionDenied("Not for you."), Http404("gone")])
    def test_exceptions_of_console_views_become_console_pages(self, debug, staff, exception):
        request = RequestFactory().get("/console/anything/")
        request.user = staff
        middleware = ConsoleSecurityHeadersMiddleware(lambda r: None)  # type: ignore[arg-type,return-value]
        response = middleware.process_exception(request, exception)
        assert response is not None
        if isinstance(exception, PermissionDenied):
            assert response.status_code == 403 and b"Not for you." in response.content
        else:
            assert response.status_code == 404 and b"<h1>Not found</h1>" in response.content
        outside = RequestFactory().get("/api/v1/me")
        assert middleware.process_exception(outside, exception) is None


@pytest.fixture
def requester(make_user):
    return make_user(email="leaving@example.com")


class TestLabels:
    def test_statuses_in_words(self, staff_client, requester, make_user):
        gdpr_services.data_request_create(user=requester, actor=requester, type="erasure")
        queue = staff_client.get("/console/deletions/").content.decode()
        assert (
            '<span class="badge warn">awaiting approval</span>' in queue and "awaiting_approval" not in queue
        )
        assert "1 request" in queue
        exporter = make_user(email="exporter@example.com")
        gdpr_services.data_request_create(user=exporter, actor=exporter, type="export")
        exports = staff_client.get("/console/exports/").content.decode()
        assert '<span class="badge warn">queued</span>' in exports
        assert '<p class="total" id="total">1 export request</p>' in exports
        detail = staff_client.get(f"/console/users/{requester.pk}/").content.decode()
        assert "awaiting approval" in detail and "awaiting_approval" not in detail

    def test_one_badge_per_state_and_a_staff_marker(self, staff_client, make_user):
        from django.utils import timezone

        make_user(email="active@example.com")
        make_user(email="unverified@example.com", verified=False)
        make_user(email="off@example.com", is_active=False)
        make_user(email="gone@example.com", deleted_at=timezone.now(), is_active=False)
        make_user(email="helper@example.com", is_staff=True)
        body = staff_client.get("/console/users/").content.decode()
        rows = {
            html.unescape(email): re.findall(r'<span class="badge ([a-z ]*)">([a-z ]+)</span>', row)
            for email, row in re.findall(
                r'<a href="/console/users/[0-9a-f-]+/">([^<]+)</a></td>(.*?)</tr>', body, re.S
            )
        }
        assert rows["active@example.com"] == [("ok", "active")]
        assert rows["unverified@example.com"] == [("warn", "unverified")]
        assert rows["off@example.com"] == [("bad", "deactivated")]
        assert rows["gone@example.com"] == [("bad", "deleted")]
        assert rows["helper@example.com"] == [("ok", "active"), ("staff", "staff")]
        assert "inactive" not in body and ">live<" not in body


class TestExportsRefresh:
    def test_polls_while_an_export_is_under_way(self, staff_client, requester):
        export = gdpr_services.data_request_create(user=requester, actor=requester, type="export")
        for status, progress, polls in (("pending", 0, True), ("running", 40, True), ("ready", 100, False)):
            DataRequest.objects.filter(pk=export.pk).update(status=status, progress=progress)
            page = staff_client.get("/console/exports/").content.decode()
            partial = staff_client.get("/console/exports/", headers=htmx("results")).content.decode()
            for body in (page, partial):
                assert ('hx-trigger="every 2s"' in body) is polls, status
                assert f'<progress max="100" value="{progress}"' in body
            assert partial.strip().startswith('<div id="results"')
            if polls:
                assert 'hx-get="/console/exports/" hx-trigger="every 2s" hx-target="this"' in partial

    def test_failed_export_stops_polling(self, staff_client, requester):
        export = gdpr_services.data_request_create(user=requester, actor=requester, type="export")
        DataRequest.objects.filter(pk=export.pk).update(status="failed", error="disk full")
        body = staff_client.get("/console/exports/", headers=htmx("results")).content.decode()
        assert 'hx-trigger="every 2s"' not in body
        assert '<span class="badge bad">failed</span>' in body and "disk full" in body

    def test_polls_keep_the_page_number(self, staff_client, requester, settings, make_user):
        settings.CONSOLE_PAGE_SIZE = 1
        other = make_user(email="other@example.com")
        gdpr_services.data_request_create(user=requester, actor=requester, type="export")
        gdpr_services.data_request_create(user=other, actor=other, type="export")
        body = staff_client.get("/console/exports/?page=2", headers=htmx("results")).content.decode()
        assert 'hx-get="/console/exports/?page=2"' in body
