"""A small user agent: registers one public client and makes grants through the real HTTP flow
(authorize, consent form, upstream authorize, callback, code exchange), a cookie jar per user kept
across the whole chain, no redirect followed automatically."""
from __future__ import annotations

import base64
import hashlib
import http.cookiejar
import json
import re
import secrets
import urllib.parse
import urllib.request
from dataclasses import dataclass

REDIRECT_PATH = "/cb"
SCOPE = "files.read offline_access"
_INPUT = re.compile(r'<input[^>]*\bname="([^"]+)"[^>]*\bvalue="([^"]*)"', re.I)
_FORM_ACTION = re.compile(r'<form[^>]*\baction="([^"]*)"', re.I)


class AuthorizationFailed(AssertionError):
    pass


@dataclass
class TokenPair:
    access: str
    refresh: str


class _KeepEveryResponse(urllib.request.HTTPErrorProcessor):
    """Hands every response back as it is: no redirect followed, no exception for 4xx/5xx."""

    def http_response(self, request, response):
        return response

    https_response = http_response


def _unescape(value: str) -> str:
    return (value.replace("&quot;", '"').replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">")
            .replace("&amp;", "&"))


def post_form(url: str, fields: dict[str, str], timeout: float = 30) -> tuple[int, dict, dict]:
    """POSTs a form; returns (status, headers, JSON body or {})."""
    data = urllib.parse.urlencode(fields).encode()
    request = urllib.request.Request(url, data=data, method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.build_opener(_KeepEveryResponse).open(request, timeout=timeout) as r:
        body = r.read()
        try:
            parsed = json.loads(body) if body else {}
        except ValueError:
            parsed = {"_raw": body[:200].decode(errors="replace")}
        return r.status, {k.lower(): v for k, v in r.headers.items()}, parsed


class OAuthClient:
    """One registered public client of the server `slug` at `base_url`."""

    def __init__(self, base_url: str, slug: str, redirect_port: int):
        self.base_url = base_url
        self.slug = slug
        self.redirect_uri = f"http://127.0.0.1:{redirect_port}{REDIRECT_PATH}"
        self.client_id: str | None = None

    def endpoint(self, name: str, base_url: str | None = None) -> str:
        return f"{base_url or self.base_url}/oauth/{self.slug}/{name}"

    def register(self) -> str:
        body = json.dumps({"client_name": "reliability suite", "redirect_uris": [self.redirect_uri],
                           "token_endpoint_auth_method": "none",
                           "grant_types": ["authorization_code", "refresh_token"],
                           "response_types": ["code"]}).encode()
        request = urllib.request.Request(self.endpoint("register"), data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.build_opener(_KeepEveryResponse).open(request, timeout=30) as r:
            answer = json.loads(r.read())
            if r.status != 201 and r.status != 200:
                raise AuthorizationFailed(f"registration answered {r.status}: {answer}")
        self.client_id = answer["client_id"]
        return self.client_id

    def authorize(self, user: str, start_on: str | None = None, finish_on: str | None = None) -> TokenPair:
        """Runs the whole authorization-code flow as `user` with a cookie jar of its own.

        With `start_on` / `finish_on` (base URLs of two instances behind one public URL), the authorization
        request goes to the first and every later hop to Tollgate (consent POST, upstream callback, code exchange)
        to the second, as a load balancer may route them."""
        start_netloc = urllib.parse.urlsplit(start_on or self.base_url).netloc
        finish_netloc = urllib.parse.urlsplit(finish_on or self.base_url).netloc

        def routed(location: str) -> str:
            parts = urllib.parse.urlsplit(location)
            if parts.netloc in (proxy_netloc, start_netloc):
                return urllib.parse.urlunsplit(parts._replace(netloc=finish_netloc))
            return location
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _KeepEveryResponse)
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        state = secrets.token_urlsafe(16)
        url = self.endpoint("authorize", start_on) + "?" + urllib.parse.urlencode({
            "response_type": "code", "client_id": self.client_id, "redirect_uri": self.redirect_uri,
            "scope": SCOPE, "state": state, "code_challenge": challenge, "code_challenge_method": "S256"})
        proxy_netloc = urllib.parse.urlsplit(self.base_url).netloc
        request = urllib.request.Request(url)
        for _ in range(12):
            with opener.open(request, timeout=30) as r:
                status, headers, text = r.status, r.headers, r.read().decode(errors="replace")
            if status in (301, 302, 303, 307, 308):
                location = urllib.parse.urljoin(request.full_url, headers["Location"])
                if location.split("?")[0] == self.redirect_uri:
                    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
                    if "code" not in query or query.get("state") != state:
                        raise AuthorizationFailed(f"{user}: the flow ended without a code or with another state: {query}")
                    return self._exchange(query["code"], verifier, finish_on)
                if urllib.parse.urlsplit(location).netloc not in (proxy_netloc, start_netloc, finish_netloc):
                    # the upstream authorize: sign the user in
                    location += ("&" if "?" in location else "?") + urllib.parse.urlencode({"login_hint": user})
                request = urllib.request.Request(routed(location))
            elif status == 200 and "<form" in text:
                action = _FORM_ACTION.search(text)
                fields = {name: _unescape(value) for name, value in _INPUT.findall(text)}
                if action is None or "transaction" not in fields or "csrf_token" not in fields:
                    raise AuthorizationFailed(f"{user}: no consent form with transaction and csrf_token:\n{text[:800]}")
                fields["decision"] = "approve"
                request = urllib.request.Request(routed(urllib.parse.urljoin(request.full_url, _unescape(action.group(1)))),
                                                 data=urllib.parse.urlencode(fields).encode(), method="POST",
                                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
            else:
                raise AuthorizationFailed(f"{user}: {request.get_method()} {request.full_url} answered {status}: {text[:500]}")
        raise AuthorizationFailed(f"{user}: more than 12 hops in the authorization flow")

    def refresh(self, refresh_token: str, base_url: str | None = None) -> tuple[int, dict, dict]:
        """The refresh grant at the instance `base_url` (default: the public URL): (status, headers, body)."""
        return post_form(self.endpoint("token", base_url), {
            "grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": self.client_id})

    def _exchange(self, code: str, verifier: str, base_url: str | None = None) -> TokenPair:
        status, _, body = post_form(self.endpoint("token", base_url), {
            "grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri,
            "client_id": self.client_id, "code_verifier": verifier})
        if status != 200 or "refresh_token" not in body:
            raise AuthorizationFailed(f"the code exchange answered {status}: {body}")
        return TokenPair(body["access_token"], body["refresh_token"])
