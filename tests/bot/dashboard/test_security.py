"""The dashboard's security rules, checked over HTTP without a browser (fast)."""

from __future__ import annotations

from aiohttp import FormData

from bot import audit
from bot.dashboard.passwords import hash_password, owner_password_hash, verify_password
from bot.dashboard.uploads import safe_file_name
from bot.dashboard.web import PASSWORD_KEY
from bot.store import Store
from tests.bot.dashboard.conftest import PASSWORD, Harness, csrf_from
from tests.support import incoming

SCRIPT = "<script>alert(1)</script>"


def test_password_hash_is_salted_scrypt_and_verifies_only_the_password() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first.startswith("scrypt$") and first != second
    assert PASSWORD not in first
    assert verify_password(PASSWORD, first) and verify_password(PASSWORD, second)
    assert not verify_password(PASSWORD + "!", first)
    assert not verify_password(PASSWORD, "scrypt$garbage")


def test_a_plain_password_secret_is_only_kept_hashed(harness: Harness) -> None:
    [kept] = harness.web_app[PASSWORD_KEY]
    assert PASSWORD not in kept and verify_password(PASSWORD, kept)
    assert owner_password_hash(harness.app.store, kept) == kept  # an already-hashed secret is used as is


async def test_pages_need_a_login_and_forms_need_a_session(harness: Harness) -> None:
    for path in ("/", "/conversations", "/kb", "/rules", "/content", "/moderation", "/tickets", "/settings"):
        response = await harness.client.get(path, allow_redirects=False)
        assert response.status == 303 and response.headers["Location"] == "/login", path
    response = await harness.client.post("/rules/add", data={"spec": 'keyword "hi" -> hello'})
    assert response.status == 401
    assert harness.app.store.db.table("rules").count == 0


async def test_login_sets_an_http_only_same_site_cookie_and_wrong_passwords_are_refused(harness: Harness) -> None:
    assert await harness.login("not the password") == 401
    form = await harness.client.get("/login")
    token = csrf_from(await form.text())
    response = await harness.client.post(
        "/login", data={"csrf_token": token, "password": PASSWORD}, allow_redirects=False
    )
    assert response.status == 303
    cookie = response.headers.getall("Set-Cookie")
    session_cookie = next(value for value in cookie if value.startswith("socialbot_session="))
    assert "HttpOnly" in session_cookie and "SameSite=Strict" in session_cookie
    assert [entry.action for entry in audit.recent(harness.app.store)] == ["dashboard.login"]


async def test_login_without_its_csrf_token_is_refused(harness: Harness) -> None:
    await harness.client.get("/login")
    response = await harness.client.post("/login", data={"password": PASSWORD}, allow_redirects=False)
    assert response.status == 403


async def test_repeated_failed_logins_are_rate_limited_even_with_the_right_password(harness: Harness) -> None:
    for _ in range(3):
        assert await harness.login("wrong password!") == 401
    assert await harness.login(PASSWORD) == 429


async def test_a_form_posted_without_the_csrf_token_changes_nothing(harness: Harness) -> None:
    assert await harness.login() == 303
    response = await harness.client.post("/rules/add", data={"spec": 'keyword "hi" -> hello'})
    assert response.status == 403
    response = await harness.client.post("/rules/add", data={"spec": 'keyword "hi" -> hello', "csrf_token": "x" * 43})
    assert response.status == 403
    assert harness.app.store.db.table("rules").count == 0
    status, _ = await harness.post("/rules/add", spec='keyword "hi" -> hello')
    assert status == 200 and harness.app.store.db.table("rules").count == 1


async def test_every_change_leaves_an_audit_entry_by_the_dashboard(harness: Harness) -> None:
    await harness.login()
    await harness.post("/rules/add", spec='keyword "hours" -> 9 to 5')
    await harness.post("/rules/1/disable")
    await harness.post("/kb/new", title="Opening hours", text="We are open 9 to 5 on weekdays.")
    actions = [(entry.actor, entry.action) for entry in audit.recent(harness.app.store)]
    assert ("dashboard:owner", "rules.add") in actions
    assert ("dashboard:owner", "rules.edit") in actions
    assert ("dashboard:owner", "dashboard.kb.create") in actions


async def test_member_text_is_shown_as_text_never_as_markup(harness: Harness) -> None:
    await harness.app.manager.handle(incoming(f"hi {SCRIPT}", display_name=f"Eve{SCRIPT}"))
    await harness.login()
    user_id = next(harness.app.store.db.query("select id from users"))["id"]
    conversation_id = next(harness.app.store.db.query("select id from conversations"))["id"]
    for path in (
        "/conversations?q=alert",
        f"/members/{user_id}",
        f"/conversations/{conversation_id}",
        "/conversations",
    ):
        html = await (await harness.client.get(path)).text()
        assert SCRIPT not in html, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, path


async def test_security_headers_forbid_scripts_and_framing(harness: Harness) -> None:
    response = await harness.client.get("/login")
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert "script-src" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"


def test_upload_names_are_made_safe() -> None:
    assert safe_file_name("../../etc/passwd.md") == "passwd.md"
    assert safe_file_name("C:\\Users\\me\\Öffnungszeiten & Preise.MD") == "Offnungszeiten_Preise.md"
    assert safe_file_name(".hidden.txt") == "hidden.txt"


def upload_form(csrf: str, name: str, data: bytes) -> FormData:
    form = FormData()
    form.add_field("csrf_token", csrf)
    form.add_field("document", data, filename=name, content_type="application/octet-stream")
    return form


async def test_uploads_are_size_limited_and_stored_under_a_safe_name(harness: Harness) -> None:
    await harness.login()
    response = await harness.client.post(
        "/kb/upload", data=upload_form(harness.csrf, "big.md", b"# Big\n" + b"x" * 30_000)
    )
    assert "larger than the 20,000 bytes allowed" in await response.text()
    huge = await harness.client.post("/kb/upload", data=upload_form(harness.csrf, "huge.md", b"x" * 200_000))
    assert huge.status == 413
    response = await harness.client.post(
        "/kb/upload", data=upload_form(harness.csrf, "../../evil.md", b"# Returns\n\nReturns within 30 days.")
    )
    assert response.status == 200 and "Returns: added" in await response.text()
    uploads = harness.app.config.resolve_path("uploads")
    assert [path.name for path in uploads.iterdir()] == ["evil.md"]
    binary = await harness.client.post("/kb/upload", data=upload_form(harness.csrf, "x.md", b"\x00\x01binary"))
    assert "looks binary" in await binary.text()
    assert not (uploads / "x.md").exists() and not (uploads / "big.md").exists()


async def test_settings_show_the_configuration_with_secrets_masked(harness: Harness) -> None:
    await harness.login()
    html = await (await harness.client.get("/settings")).text()
    assert "dashboard_password" in html and "set (hidden)" in html
    assert PASSWORD not in html
    assert "[dashboard]" in html and "max_upload_bytes" in html


def test_set_password_stores_only_a_hash(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from bot.cli.main import main

    config = tmp_path / "socialbot.toml"
    config.write_text('[bot]\ndatabase = "bot.db"\n', encoding="utf-8")
    result = CliRunner().invoke(
        main,
        ["--config", str(config), "dashboard", "set-password", "--stdin"],
        input="short\n",
        env={"SOCIALBOT_DASHBOARD_PASSWORD": ""},
    )
    assert result.exit_code != 0 and "at least 10 characters" in result.output
    result = CliRunner().invoke(
        main,
        ["--config", str(config), "dashboard", "set-password", "--stdin"],
        input=f"{PASSWORD}\n",
        env={"SOCIALBOT_DASHBOARD_PASSWORD": ""},
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    store = Store.open(tmp_path / "bot.db")
    stored = store.get_state("dashboard.password_hash")
    store.close()
    assert stored and PASSWORD not in stored and verify_password(PASSWORD, stored)
    assert PASSWORD.encode() not in (tmp_path / "bot.db").read_bytes()
