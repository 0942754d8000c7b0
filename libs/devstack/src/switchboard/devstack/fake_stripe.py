"""A local fake of the parts of Stripe's API that subscription billing uses, for tests: the
official `stripe` SDK can be pointed at it (`base_addresses={"api": base_url}`).

It fakes customers, Checkout sessions (subscription mode), billing-portal sessions,
subscriptions (retrieve, update, cancel), invoices (retrieve, list) and billing meter events,
answering in Stripe's JSON shapes (ids like `cus_<hex>`, `livemode: false`, unix `created`) and
Stripe's error format (`{"error": {"type", "message", "code", "param"}}`) as Stripe does:

- a missing or wrong key (`Authorization: Bearer <key>`, or Basic with the key as user) is a
  401 `invalid_request_error`;
- then `fail_with`, a queue of `(status, error type)`, is answered before anything is done
  (one failure a request, in Stripe's error format);
- a POST that repeats an `Idempotency-Key` gets the first answer again, byte for byte (with
  `Idempotent-Replayed: true`), and changes nothing; the same key with other parameters (or on
  another endpoint) is a 400 `idempotency_error`. Only successes are kept, so a request refused
  (by the key check, `fail_with` or a validation) can be retried with its key, as Stripe keeps
  no result for a request that never began executing;
- an unknown price, customer, subscription or item is a 400 (404 when it is the path's id)
  `invalid_request_error` with code `resource_missing` ("No such price: 'price_x'");
- a meter event whose `identifier` was already taken is a 400 `invalid_request_error` ("An
  event already exists with identifier <id>.") with `Stripe-Should-Retry: false`, as the real
  API answers one;
- `expand[]` works for ids of the objects it keeps (`latest_invoice`, `customer`,
  `subscription`, `data.subscription`...) and a Checkout session's `line_items`.

The request form bodies (and GET/DELETE query strings) are parsed into nested params
(`line_items[0][price]` -> `{"line_items": [{"price": ...}]}`; values stay strings, as sent)
and recorded, with the method, path and idempotency key, in `requests`, in arrival order.

Updating a subscription's items (`items[n][id|price|quantity|deleted]`, or an item without an
id to add one) with `proration_behavior=create_prorations` (Stripe's default) and a change to
what a period costs adds a proration invoice, in `draft`: one line of
`(new period amount - old period amount) x (period end - now) / (period end - period start)`,
rounded half up to the cent (a downgrade's is negative: its `total` is the credit, its
`amount_due` 0). `always_invoice` makes it `paid` at once (and sends `invoice.paid`); `none`
makes none (a draft leaves `latest_invoice` as it was). A period is the price's interval from
the subscription's creation (a month for monthly prices, to the same day of the next month).

What the customer does is done by the test, with methods that return the events they caused
(newest last; every event, these and those the API's changes cause, is also kept in `events`):
`complete_checkout(session_id)`, `fail_payment(subscription_id)` and `pay(subscription_id)`.
`signed(event)` gives the body and headers Stripe would post it to a webhook endpoint with,
signed with `webhook_secret` so that `stripe.Webhook.construct_event` accepts it. Events'
`created` strictly increase (a second apart at least), so consumers can order them.

Times come from `clock` (default `time.time`), so a test can move time forward (to prorate
half a period, say); signatures use the real time, as the SDK checks them against it.
"""

from __future__ import annotations

import base64
import calendar
import copy
import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, Response

API_VERSION = "2026-10-28.endive"
"""The API version events carry: the installed `stripe` SDK's `stripe.api_version`."""

Json = dict[str, Any]


class StripeError(Exception):
    """A refusal in Stripe's error format."""

    def __init__(
        self,
        status: int,
        kind: str,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message
        self.code = code
        self.param = param
        self.headers = headers or {}

    def body(self) -> Json:
        error: Json = {"type": self.kind, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param is not None:
            error["param"] = self.param
        return {"error": error}


@dataclass(frozen=True)
class _Call:
    """One API request as a handler sees it: its params, the ids in its path, and its key."""

    params: Json
    ids: tuple[str, ...]
    idempotency_key: str | None


Handler = Callable[[_Call], Json]


@dataclass
class FakeStripe:
    api_key: str
    webhook_secret: str = field(default_factory=lambda: "whsec_" + secrets.token_hex(16))
    prices: dict[str, Json] = field(default_factory=dict)
    """Price id -> its fields, e.g. `{"unit_amount": 499, "currency": "usd", "recurring":
    {"interval": "month"}}` (the rest of Stripe's price shape is filled in)."""
    fail_with: list[tuple[int, str]] = field(default_factory=list)
    """`(status, error type)` answers to the next requests (after the key check), one each."""
    requests: list[Json] = field(default_factory=list)
    """Every request: `{"method", "path", "params", "idempotency_key"}`, in arrival order."""
    events: list[Json] = field(default_factory=list)
    """Every event the fake has sent, oldest first."""
    customers: dict[str, Json] = field(default_factory=dict)
    checkout_sessions: dict[str, Json] = field(default_factory=dict)
    billing_portal_sessions: dict[str, Json] = field(default_factory=dict)
    subscriptions: dict[str, Json] = field(default_factory=dict)
    invoices: dict[str, Json] = field(default_factory=dict)
    meter_events: dict[str, Json] = field(default_factory=dict)
    """Accepted meter events by their `identifier`."""
    clock: Callable[[], float] = time.time
    api_version: str = API_VERSION

    _answered: dict[str, tuple[str, Json, bytes]] = field(default_factory=dict, repr=False)
    """Idempotency key -> the request it answered (`METHOD path`), its params, its body."""
    _checkouts: dict[str, Json] = field(default_factory=dict, repr=False)
    """Checkout session id -> the params it was created with."""
    _base_url: str = field(default="http://fake-stripe.invalid", repr=False)
    _last_event: int = field(default=0, repr=False)
    _invoice_numbers: int = field(default=0, repr=False)

    # --- the API -------------------------------------------------------------------------

    def app(self) -> FastAPI:
        app = FastAPI(title="fake stripe")
        routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("POST", re.compile(r"/v1/customers"), self._create_customer),
            ("GET", re.compile(r"/v1/customers/([^/]+)"), self._get_customer),
            ("POST", re.compile(r"/v1/checkout/sessions"), self._create_checkout),
            ("GET", re.compile(r"/v1/checkout/sessions/([^/]+)"), self._get_checkout),
            ("POST", re.compile(r"/v1/billing_portal/sessions"), self._create_portal),
            ("GET", re.compile(r"/v1/subscriptions/([^/]+)"), self._get_subscription),
            ("POST", re.compile(r"/v1/subscriptions/([^/]+)"), self._update_subscription),
            ("DELETE", re.compile(r"/v1/subscriptions/([^/]+)"), self._cancel_subscription),
            ("GET", re.compile(r"/v1/invoices"), self._list_invoices),
            ("GET", re.compile(r"/v1/invoices/([^/]+)"), self._get_invoice),
            ("POST", re.compile(r"/v1/billing/meter_events"), self._create_meter_event),
        ]

        @app.api_route("/v1/{rest:path}", methods=["GET", "POST", "DELETE"])
        async def api(request: Request) -> Response:
            method, path = request.method, request.url.path
            raw = (await request.body()).decode() if method == "POST" else request.url.query
            params = parse_params(parse_qsl(raw, keep_blank_values=True))
            key = request.headers.get("idempotency-key")
            self.requests.append(
                {"method": method, "path": path, "params": params, "idempotency_key": key}
            )
            self._base_url = str(request.base_url).rstrip("/")
            headers = {"Request-Id": "req_" + secrets.token_hex(7)}
            try:
                self._check_key(request.headers.get("authorization", ""))
                if self.fail_with:
                    status, kind = self.fail_with.pop(0)
                    raise StripeError(status, kind, "the fake was told to fail")
                idempotent = method == "POST" and bool(key)
                if idempotent and (replay := self._replay(str(key), f"{method} {path}", params)):
                    headers["Idempotent-Replayed"] = "true"
                    return Response(replay, media_type="application/json", headers=headers)
                handler, ids = _route(routes, method, path)
                answer = handler(_Call(params, ids, key))
                for expand in _strings(params.get("expand")):
                    answer = self._expand(answer, expand.split("."))
                body = json.dumps(answer, indent=2).encode()
                if idempotent:
                    self._answered[str(key)] = (f"{method} {path}", params, body)
                return Response(body, media_type="application/json", headers=headers)
            except StripeError as refused:
                body = json.dumps(refused.body(), indent=2).encode()
                return Response(
                    body,
                    status_code=refused.status,
                    media_type="application/json",
                    headers={**headers, **refused.headers},
                )

        return app

    def _check_key(self, authorization: str) -> None:
        scheme, _, credentials = authorization.partition(" ")
        given = credentials.strip()
        if scheme.lower() == "basic":
            try:
                given = base64.b64decode(given).decode().partition(":")[0]
            except ValueError:
                given = ""
        elif scheme.lower() != "bearer":
            given = ""
        if given == self.api_key:
            return
        unauthorized = {"WWW-Authenticate": 'Basic realm="Stripe"'}
        if not given:
            raise StripeError(
                401,
                "invalid_request_error",
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY').",
                headers=unauthorized,
            )
        shown = given[:8] + "*" * max(0, len(given) - 12) + given[-4:] if len(given) > 12 else ""
        raise StripeError(
            401,
            "invalid_request_error",
            f"Invalid API Key provided: {shown or '****'}",
            headers=unauthorized,
        )

    def _replay(self, key: str, request: str, params: Json) -> bytes | None:
        """The first answer to `key`, if it has one; a refusal when it was for another request."""
        if key not in self._answered:
            return None
        first, first_params, body = self._answered[key]
        if first != request or first_params != params:
            raise StripeError(
                400,
                "idempotency_error",
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{key}' if you meant to "
                "execute a different request.",
            )
        return body

    # --- customers -----------------------------------------------------------------------

    def _create_customer(self, call: _Call) -> Json:
        p = call.params
        customer = self._new("cus", "customer")
        customer.update(
            {
                "address": None,
                "balance": 0,
                "currency": None,
                "default_source": None,
                "delinquent": False,
                "description": p.get("description"),
                "email": p.get("email"),
                "invoice_prefix": secrets.token_hex(4).upper(),
                "invoice_settings": {
                    "custom_fields": None,
                    "default_payment_method": None,
                    "footer": None,
                    "rendering_options": None,
                },
                "metadata": _metadata({}, p.get("metadata")),
                "name": p.get("name"),
                "phone": p.get("phone"),
                "preferred_locales": [],
                "shipping": None,
                "tax_exempt": "none",
                "test_clock": None,
            }
        )
        self.customers[customer["id"]] = customer
        return customer

    def _get_customer(self, call: _Call) -> Json:
        return _found(self.customers, call.ids[0], "customer", status=404, param="id")

    # --- Checkout and the billing portal -------------------------------------------------

    def _create_checkout(self, call: _Call) -> Json:
        p = call.params
        mode = _required(p, "mode")
        if mode != "subscription":
            raise StripeError(
                400, "invalid_request_error", "The fake only has mode=subscription.", param="mode"
            )
        if p.get("customer"):
            _found(self.customers, str(p["customer"]), "customer", param="customer")
        lines = p.get("line_items")
        if not isinstance(lines, list) or not lines:
            raise StripeError(
                400,
                "invalid_request_error",
                "`line_items` is required in `subscription` mode.",
                code="parameter_missing",
                param="line_items",
            )
        amount, currency = 0, "usd"
        for n, line in enumerate(lines):
            price = self._price(str(line.get("price")), param=f"line_items[{n}][price]")
            quantity = _integer(line.get("quantity", "1"), f"line_items[{n}][quantity]")
            amount += int(price["unit_amount"]) * quantity
            currency = str(price["currency"])
        session = self._new("cs", "checkout.session")
        session.update(
            {
                "amount_subtotal": amount,
                "amount_total": amount,
                "cancel_url": p.get("cancel_url"),
                "client_reference_id": p.get("client_reference_id"),
                "currency": currency,
                "customer": p.get("customer"),
                "customer_details": None,
                "customer_email": p.get("customer_email"),
                "expires_at": session["created"] + 24 * 3600,
                "invoice": None,
                "metadata": _metadata({}, p.get("metadata")),
                "mode": mode,
                "payment_status": "unpaid",
                "status": "open",
                "subscription": None,
                "success_url": p.get("success_url"),
                "ui_mode": "hosted",
            }
        )
        session["url"] = f"{self._base_url}/pay/{session['id']}"
        self.checkout_sessions[session["id"]] = session
        self._checkouts[session["id"]] = p
        return session

    def _get_checkout(self, call: _Call) -> Json:
        return _found(self.checkout_sessions, call.ids[0], "checkout session", status=404)

    def _create_portal(self, call: _Call) -> Json:
        customer = _required(call.params, "customer")
        _found(self.customers, customer, "customer", param="customer")
        portal = self._new("bps", "billing_portal.session")
        portal.update(
            {
                "configuration": "bpc_fake",
                "customer": customer,
                "flow": None,
                "locale": None,
                "on_behalf_of": None,
                "return_url": call.params.get("return_url"),
            }
        )
        del portal["metadata"]  # a portal session has none
        portal["url"] = f"{self._base_url}/portal/{portal['id']}"
        self.billing_portal_sessions[portal["id"]] = portal
        return portal

    # --- subscriptions -------------------------------------------------------------------

    def _get_subscription(self, call: _Call) -> Json:
        return _found(self.subscriptions, call.ids[0], "subscription", status=404)

    def _update_subscription(self, call: _Call) -> Json:
        p = call.params
        sub = _found(self.subscriptions, call.ids[0], "subscription", status=404)
        before = copy.deepcopy(sub)
        if sub["status"] == "canceled" and set(p) - {"metadata", "cancellation_details", "expand"}:
            raise StripeError(
                400,
                "invalid_request_error",
                "A canceled subscription can only update its cancellation_details and metadata.",
            )
        behavior = str(p.get("proration_behavior", "create_prorations"))
        if behavior not in ("create_prorations", "none", "always_invoice"):
            raise StripeError(
                400,
                "invalid_request_error",
                "Invalid proration_behavior: must be one of create_prorations, none, or "
                "always_invoice",
                param="proration_behavior",
            )
        items: list[Json] = copy.deepcopy(sub["items"]["data"])
        for n, spec in enumerate(_list(p.get("items"), "items")):
            items = self._change_item(sub, items, n, spec)
        metadata = _metadata(sub["metadata"], p.get("metadata"))
        at_end = sub["cancel_at_period_end"]
        if "cancel_at_period_end" in p:
            at_end = _boolean(p["cancel_at_period_end"], "cancel_at_period_end")
        # Nothing has changed before here: a refused update leaves the subscription as it was.
        sub["cancel_at_period_end"] = at_end
        sub["cancel_at"] = sub["current_period_end"] if at_end else None
        sub["metadata"] = metadata
        sub["items"] = _list_object(items, f"/v1/subscription_items?subscription={sub['id']}")
        change = _amount(sub) - _amount(before)
        if change and behavior != "none":
            invoice = self._proration(sub, change, paid=behavior == "always_invoice")
            if invoice["status"] == "paid":
                sub["latest_invoice"] = invoice["id"]
                self._event("invoice.paid", invoice, call.idempotency_key)
        changed = {k: before[k] for k in sub if before.get(k) != sub[k]}
        if changed:
            self._event("customer.subscription.updated", sub, call.idempotency_key, changed)
        return sub

    def _change_item(self, sub: Json, items: list[Json], n: int, change: Json) -> list[Json]:
        """The items after `items[n]` of an update (an item's id changes it, else adds one)."""
        if "id" not in change:
            price_id = _required(change, "price", f"items[{n}][price]")
            price = self._price(price_id, f"items[{n}][price]")
            quantity = _integer(change.get("quantity", "1"), f"items[{n}][quantity]")
            return [*items, self._item(sub, price, quantity)]
        item_id = str(change["id"])
        found = next((item for item in items if item["id"] == item_id), None)
        if found is None:
            raise StripeError(
                400,
                "invalid_request_error",
                f"No such subscription item: '{item_id}'",
                code="resource_missing",
                param=f"items[{n}][id]",
            )
        if _boolean(change.get("deleted", "false"), f"items[{n}][deleted]"):
            return [item for item in items if item is not found]
        if "price" in change:
            found["price"] = self._price(str(change["price"]), f"items[{n}][price]")
        if "quantity" in change:
            found["quantity"] = _integer(change["quantity"], f"items[{n}][quantity]")
        if "metadata" in change:
            found["metadata"] = _metadata(found["metadata"], change["metadata"])
        return items

    def _cancel_subscription(self, call: _Call) -> Json:
        sub = _found(self.subscriptions, call.ids[0], "subscription", status=404)
        if sub["status"] == "canceled":
            raise StripeError(
                400,
                "invalid_request_error",
                "A canceled subscription can only update its cancellation_details and metadata.",
            )
        now = self._now()
        sub.update(
            {
                "status": "canceled",
                "canceled_at": now,
                "ended_at": now,
                "cancellation_details": {
                    "comment": None,
                    "feedback": None,
                    "reason": "cancellation_requested",
                },
            }
        )
        self._event("customer.subscription.deleted", sub, call.idempotency_key)
        return sub

    # --- invoices ------------------------------------------------------------------------

    def _list_invoices(self, call: _Call) -> Json:
        p = call.params
        limit = _integer(p.get("limit", "10"), "limit")
        if not 1 <= limit <= 100:
            raise StripeError(
                400,
                "invalid_request_error",
                "This value must be greater than or equal to 1 and less than or equal to 100.",
                param="limit",
            )
        newest = sorted(
            reversed(self.invoices.values()), key=lambda i: int(i["created"]), reverse=True
        )
        chosen = [
            invoice
            for invoice in newest
            if all(
                p.get(name) in (None, invoice[name])
                for name in ("customer", "subscription", "status")
            )
        ]
        if after := p.get("starting_after"):
            ids = [invoice["id"] for invoice in chosen]
            chosen = chosen[ids.index(after) + 1 :] if after in ids else []
        listed = _list_object(chosen[:limit], "/v1/invoices")
        listed["has_more"] = len(chosen) > limit
        del listed["total_count"]
        return listed

    def _get_invoice(self, call: _Call) -> Json:
        return _found(self.invoices, call.ids[0], "invoice", status=404)

    # --- meter events --------------------------------------------------------------------

    def _create_meter_event(self, call: _Call) -> Json:
        p = call.params
        name = _required(p, "event_name")
        payload = p.get("payload")
        if not isinstance(payload, dict):
            raise StripeError(
                400,
                "invalid_request_error",
                "Missing required param: payload.",
                code="parameter_missing",
                param="payload",
            )
        for needed in ("stripe_customer_id", "value"):
            _required(payload, needed, f"payload[{needed}]")
        identifier = str(p.get("identifier") or uuid.uuid4())
        if identifier in self.meter_events:
            raise StripeError(
                400,
                "invalid_request_error",
                f"An event already exists with identifier {identifier}.",
                headers={"Stripe-Should-Retry": "false"},
            )
        now = self._now()
        event: Json = {
            "object": "billing.meter_event",
            "created": now,
            "event_name": name,
            "identifier": identifier,
            "livemode": False,
            "payload": payload,
            "timestamp": _integer(p.get("timestamp", str(now)), "timestamp"),
        }
        self.meter_events[identifier] = event
        return event

    # --- what the customer does (test controls) ------------------------------------------

    def complete_checkout(self, session_id: str) -> list[Json]:
        """The customer pays at the session's URL: a customer (when the session named none),
        an active subscription of the session's line items with its `subscription_data`'s
        metadata, and its first invoice, paid. Events `checkout.session.completed`,
        `customer.subscription.created`, `invoice.paid`."""
        session = self.checkout_sessions[session_id]
        if session["status"] != "open":
            raise ValueError(f"checkout session {session_id} is {session['status']}")
        params = self._checkouts[session_id]
        customer = session["customer"]
        if customer is None:
            made = self._create_customer(_Call({"email": session["customer_email"]}, (), None))
            customer = made["id"]
        sub = self._new("sub", "subscription")
        start = sub["created"]
        subscription_data = params.get("subscription_data")
        given = subscription_data.get("metadata") if isinstance(subscription_data, dict) else None
        items = [
            self._item(
                sub, self._price(str(line["price"])), _integer(line.get("quantity", "1"), "")
            )
            for line in params["line_items"]
        ]
        end = _period_end(start, items[0]["price"]["recurring"])
        sub.update(
            {
                "application": None,
                "billing_cycle_anchor": start,
                "cancel_at": None,
                "cancel_at_period_end": False,
                "canceled_at": None,
                "cancellation_details": {"comment": None, "feedback": None, "reason": None},
                "collection_method": "charge_automatically",
                "currency": session["currency"],
                "current_period_end": end,
                "current_period_start": start,
                "customer": customer,
                "default_payment_method": "pm_" + secrets.token_hex(12),
                "description": None,
                "ended_at": None,
                "items": _list_object(items, f"/v1/subscription_items?subscription={sub['id']}"),
                "latest_invoice": None,
                "metadata": _metadata({}, given),
                "pending_update": None,
                "start_date": start,
                "status": "active",
                "trial_end": None,
                "trial_start": None,
            }
        )
        for item in items:
            item.update({"current_period_start": start, "current_period_end": end})
        self.subscriptions[sub["id"]] = sub
        lines = [self._line(sub, item["price"], item["quantity"]) for item in items]
        invoice = self._invoice(sub, lines, "subscription_create", "paid")
        sub["latest_invoice"] = invoice["id"]
        session.update(
            {
                "customer": customer,
                "customer_details": {"email": self.customers[customer]["email"]},
                "invoice": invoice["id"],
                "payment_status": "paid",
                "status": "complete",
                "subscription": sub["id"],
                "url": None,  # Stripe's is only there while the session is open
            }
        )
        return [
            self._event("checkout.session.completed", session),
            self._event("customer.subscription.created", sub),
            self._event("invoice.paid", invoice),
        ]

    def fail_payment(self, subscription_id: str) -> list[Json]:
        """A renewal's charge is declined: an open invoice for the period's amount, the
        subscription `past_due`. Events `invoice.payment_failed`,
        `customer.subscription.updated`."""
        sub = self.subscriptions[subscription_id]
        before = copy.deepcopy(sub)
        lines = [self._line(sub, item["price"], item["quantity"]) for item in _items(sub)]
        invoice = self._invoice(sub, lines, "subscription_cycle", "open")
        invoice.update({"attempted": True, "attempt_count": 1})
        sub.update({"status": "past_due", "latest_invoice": invoice["id"]})
        changed = {k: before[k] for k in sub if before[k] != sub[k]}
        return [
            self._event("invoice.payment_failed", invoice),
            self._event("customer.subscription.updated", sub, None, changed),
        ]

    def pay(self, subscription_id: str) -> list[Json]:
        """The subscription's open invoice (its newest) is paid, the subscription `active`
        again. Events `invoice.paid`, `customer.subscription.updated`."""
        sub = self.subscriptions[subscription_id]
        open_ = [i for i in self.invoices.values() if i["subscription"] == subscription_id]
        open_ = [i for i in open_ if i["status"] == "open"]
        if not open_:
            raise ValueError(f"subscription {subscription_id} has no open invoice")
        invoice = open_[-1]
        _settle(invoice, self._now())
        before = copy.deepcopy(sub)
        sub.update({"status": "active", "latest_invoice": invoice["id"]})
        changed = {k: before[k] for k in sub if before[k] != sub[k]}
        return [
            self._event("invoice.paid", invoice),
            self._event("customer.subscription.updated", sub, None, changed),
        ]

    def signed(
        self, event: Json, *, secret: str | None = None, timestamp: int | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """`event` as Stripe posts it to a webhook endpoint: its JSON body, and the headers
        with `Stripe-Signature: t=<timestamp>,v1=<HMAC-SHA256 of "<timestamp>.<body>">`, signed
        with `secret` (default `webhook_secret`) at `timestamp` (default now, the real time)."""
        body = json.dumps(event, indent=2).encode()
        at = int(time.time()) if timestamp is None else timestamp
        key = (self.webhook_secret if secret is None else secret).encode()
        signature = hmac.new(key, f"{at}.".encode() + body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "Stripe-Signature": f"t={at},v1={signature}",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        }
        return body, headers

    # --- building objects ----------------------------------------------------------------

    def _now(self) -> int:
        return int(self.clock())

    def _new(self, prefix: str, kind: str) -> Json:
        return {
            "id": f"{prefix}_{secrets.token_hex(12)}",
            "object": kind,
            "created": self._now(),
            "livemode": False,
            "metadata": {},
        }

    def _price(self, price_id: str, param: str = "price") -> Json:
        if price_id not in self.prices:
            raise StripeError(
                400,
                "invalid_request_error",
                f"No such price: '{price_id}'",
                code="resource_missing",
                param=param,
            )
        given = self.prices[price_id]
        recurring = {
            "interval": "month",
            "interval_count": 1,
            "meter": None,
            "usage_type": "licensed",
            **given.get("recurring", {}),
        }
        price: Json = {
            "id": price_id,
            "object": "price",
            "active": True,
            "billing_scheme": "per_unit",
            "created": 0,
            "currency": "usd",
            "livemode": False,
            "lookup_key": None,
            "metadata": {},
            "nickname": None,
            "product": "prod_" + hashlib.sha256(price_id.encode()).hexdigest()[:14],
            "tax_behavior": "unspecified",
            "type": "recurring",
            "unit_amount": 0,
            **given,
            "recurring": recurring,
        }
        price["unit_amount_decimal"] = str(price["unit_amount"])
        return price

    def _item(self, sub: Json, price: Json, quantity: int) -> Json:
        item = self._new("si", "subscription_item")
        item.update(
            {
                "current_period_start": sub.get("current_period_start"),
                "current_period_end": sub.get("current_period_end"),
                "price": price,
                "quantity": quantity,
                "subscription": sub["id"],
            }
        )
        return item

    def _line(self, sub: Json, price: Json, quantity: int, *, amount: int | None = None) -> Json:
        proration = amount is not None
        start = self._now() if proration else sub["current_period_start"]
        return {
            "id": "il_" + secrets.token_hex(12),
            "object": "line_item",
            "amount": int(price["unit_amount"]) * quantity if amount is None else amount,
            "currency": price["currency"],
            "description": (
                "Remaining time on the subscription after its change"
                if proration
                else f"{quantity} x {price['id']}"
            ),
            "livemode": False,
            "metadata": {},
            "parent": {
                "type": "subscription_item_details",
                "subscription_item_details": {"proration": proration, "subscription": sub["id"]},
            },
            "period": {"start": start, "end": sub["current_period_end"]},
            "price": price,
            "pricing": {
                "type": "price_details",
                "price_details": {"price": price["id"], "product": price["product"]},
                "unit_amount_decimal": price["unit_amount_decimal"],
            },
            "proration": proration,
            "quantity": quantity,
            "subscription": sub["id"],
        }

    def _invoice(self, sub: Json, lines: list[Json], reason: str, status: str) -> Json:
        invoice = self._new("in", "invoice")
        total = sum(int(line["amount"]) for line in lines)
        self._invoice_numbers += 1
        prefix = self.customers[sub["customer"]]["invoice_prefix"]
        invoice.update(
            {
                "amount_due": max(0, total),
                "amount_paid": 0,
                "amount_remaining": max(0, total),
                "attempt_count": 0,
                "attempted": False,
                "billing_reason": reason,
                "collection_method": "charge_automatically",
                "currency": sub["currency"],
                "customer": sub["customer"],
                "hosted_invoice_url": f"{self._base_url}/invoice/{invoice['id']}",
                "invoice_pdf": f"{self._base_url}/invoice/{invoice['id']}/pdf",
                "number": None if status == "draft" else f"{prefix}-{self._invoice_numbers:04d}",
                "parent": {
                    "type": "subscription_details",
                    "quote_details": None,
                    "subscription_details": {
                        "metadata": sub["metadata"],
                        "subscription": sub["id"],
                    },
                },
                "period_end": sub["current_period_end"],
                "period_start": sub["current_period_start"],
                "status": "open" if status == "paid" else status,
                "status_transitions": {
                    "finalized_at": None if status == "draft" else invoice["created"],
                    "marked_uncollectible_at": None,
                    "paid_at": None,
                    "voided_at": None,
                },
                "subscription": sub["id"],
                "subtotal": total,
                "total": total,
            }
        )
        for line in lines:
            line["invoice"] = invoice["id"]
        invoice["lines"] = _list_object(lines, f"/v1/invoices/{invoice['id']}/lines")
        if status == "paid":
            _settle(invoice, invoice["created"])
        self.invoices[invoice["id"]] = invoice
        return invoice

    def _proration(self, sub: Json, change: int, *, paid: bool) -> Json:
        """The invoice for `change` (in the period's amount) over the rest of the period."""
        start, end = int(sub["current_period_start"]), int(sub["current_period_end"])
        left = Fraction(min(max(0, end - self._now()), end - start), max(1, end - start))
        amount = _round_half_up(change * left)
        item = _items(sub)[0]
        line = self._line(sub, item["price"], item["quantity"], amount=amount)
        return self._invoice(sub, [line], "subscription_update", "paid" if paid else "draft")

    def _event(
        self,
        kind: str,
        obj: Json,
        idempotency_key: str | None = None,
        previous: Json | None = None,
    ) -> Json:
        created = max(self._now(), self._last_event + 1)
        self._last_event = created
        data: Json = {"object": copy.deepcopy(obj)}
        if previous is not None:
            data["previous_attributes"] = copy.deepcopy(previous)
        event = {
            "id": "evt_" + secrets.token_hex(12),
            "object": "event",
            "api_version": self.api_version,
            "created": created,
            "data": data,
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": idempotency_key},
            "type": kind,
        }
        self.events.append(event)
        return event

    def _expand(self, node: Any, path: list[str]) -> Any:
        """`node` with the ids at `path` (`data` walks a list's items) replaced by objects."""
        if isinstance(node, list):
            return [self._expand(each, path) for each in node]
        if not isinstance(node, dict) or not path:
            return node
        name, rest = path[0], path[1:]
        if name == "line_items" and node.get("object") == "checkout.session":
            value: Any = self._checkout_lines(str(node["id"]))
        elif name not in node:
            return node
        else:
            value = node[name]
            if isinstance(value, str) and (found := self._find(value)) is not None:
                value = copy.deepcopy(found)
        return {**node, name: self._expand(value, rest)}

    def _find(self, object_id: str) -> Json | None:
        for kept in (
            self.customers,
            self.checkout_sessions,
            self.billing_portal_sessions,
            self.subscriptions,
            self.invoices,
        ):
            if object_id in kept:
                return kept[object_id]
        return None

    def _checkout_lines(self, session_id: str) -> Json:
        lines = []
        for line in self._checkouts[session_id]["line_items"]:
            price = self._price(str(line["price"]))
            quantity = _integer(line.get("quantity", "1"), "quantity")
            total = int(price["unit_amount"]) * quantity
            lines.append(
                {
                    "id": "li_" + secrets.token_hex(12),
                    "object": "item",
                    "amount_subtotal": total,
                    "amount_total": total,
                    "currency": price["currency"],
                    "description": price["id"],
                    "price": price,
                    "quantity": quantity,
                }
            )
        return _list_object(lines, f"/v1/checkout/sessions/{session_id}/line_items")


# --- helpers -------------------------------------------------------------------------------


def parse_params(pairs: Iterable[tuple[str, str]]) -> Json:
    """Form (or query) pairs with Stripe's nested keys as nested params: `a[b][0][c]=v` ->
    `{"a": {"b": [{"c": "v"}]}}`. A run of keys 0..n-1 is a list (`a[]` appends), except in
    `metadata` and `payload`, whose keys are the caller's; values stay strings."""
    root: Json = {}
    for key, value in pairs:
        head = key.split("[", 1)[0]
        path = [head, *re.findall(r"\[([^\]]*)\]", key[len(head) :])]
        node = root
        for name in path[:-1]:
            child = node.get(name or str(len(node)))
            if not isinstance(child, dict):
                child = node[name or str(len(node))] = {}
            node = child
        node[path[-1] or str(len(node))] = value
    result: Json = _listed(root, None)
    return result


def _listed(node: Any, name: str | None) -> Any:
    if not isinstance(node, dict):
        return node
    kept = {key: _listed(value, key) for key, value in node.items()}
    indexes = [str(n) for n in range(len(kept))]
    if kept and name not in ("metadata", "payload") and sorted(kept, key=_index) == indexes:
        return [kept[index] for index in indexes]
    return kept


def _index(key: str) -> int:
    return int(key) if key.isdigit() else -1


def _route(
    routes: list[tuple[str, re.Pattern[str], Handler]], method: str, path: str
) -> tuple[Handler, tuple[str, ...]]:
    for verb, pattern, handler in routes:
        if verb == method and (match := pattern.fullmatch(path)):
            return handler, match.groups()
    raise StripeError(
        404,
        "invalid_request_error",
        f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or "
        "we can help at https://support.stripe.com/.",
    )


def _found(
    kept: dict[str, Json], object_id: str, kind: str, *, status: int = 400, param: str = "id"
) -> Json:
    if object_id not in kept:
        raise StripeError(
            status,
            "invalid_request_error",
            f"No such {kind}: '{object_id}'",
            code="resource_missing",
            param=param,
        )
    return kept[object_id]


def _required(params: Json, name: str, param: str | None = None) -> str:
    if params.get(name) in (None, ""):
        raise StripeError(
            400,
            "invalid_request_error",
            f"Missing required param: {param or name}.",
            code="parameter_missing",
            param=param or name,
        )
    return str(params[name])


def _integer(value: Any, param: str) -> int:
    try:
        return int(str(value))
    except ValueError:
        raise StripeError(
            400,
            "invalid_request_error",
            f"Invalid integer: {value}",
            code="parameter_invalid_integer",
            param=param,
        ) from None


def _boolean(value: Any, param: str) -> bool:
    if str(value) in ("true", "false"):
        return str(value) == "true"
    raise StripeError(400, "invalid_request_error", f"Invalid boolean: {value}", param=param)


def _list(value: Any, param: str) -> list[Json]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(each, dict) for each in value):
        raise StripeError(400, "invalid_request_error", f"Invalid array: {param}", param=param)
    return value


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(each) for each in value] if isinstance(value, list) else [str(value)]


def _metadata(current: Json, given: Any) -> Json:
    """Metadata after an update: keys set, an empty value unsets its key, `""` unsets all."""
    if given is None:
        return dict(current)
    if given == "":
        return {}
    if not isinstance(given, dict):
        raise StripeError(
            400, "invalid_request_error", "Invalid object: metadata", param="metadata"
        )
    merged = {**current, **given}
    return {key: value for key, value in merged.items() if value != ""}


def _list_object(data: list[Json], url: str) -> Json:
    return {
        "object": "list",
        "data": data,
        "has_more": False,
        "total_count": len(data),
        "url": url,
    }


def _items(sub: Json) -> list[Json]:
    items: list[Json] = sub["items"]["data"]
    return items


def _amount(sub: Json) -> int:
    """What one period of the subscription costs, in cents."""
    return sum(int(item["price"]["unit_amount"]) * int(item["quantity"]) for item in _items(sub))


def _settle(invoice: Json, at: int) -> None:
    invoice.update(
        {
            "amount_paid": invoice["amount_due"],
            "amount_remaining": 0,
            "attempted": True,
            "attempt_count": max(1, int(invoice["attempt_count"])),
            "status": "paid",
        }
    )
    invoice["status_transitions"]["paid_at"] = at
    invoice["status_transitions"]["finalized_at"] = (
        invoice["status_transitions"]["finalized_at"] or at
    )


def _round_half_up(value: Fraction) -> int:
    whole = int(abs(value) + Fraction(1, 2))
    return whole if value >= 0 else -whole


def _period_end(start: int, recurring: Json) -> int:
    """The end of a period that begins at `start`, for a price's `recurring` interval."""
    interval, count = (
        str(recurring.get("interval", "month")),
        int(recurring.get("interval_count", 1)),
    )
    if interval in ("day", "week"):
        return start + count * (7 if interval == "week" else 1) * 24 * 3600
    months = count * (12 if interval == "year" else 1)
    begun = datetime.fromtimestamp(start, UTC)
    year, month = divmod(begun.month - 1 + months, 12)
    year += begun.year
    day = min(begun.day, calendar.monthrange(year, month + 1)[1])
    return int(begun.replace(year=year, month=month + 1, day=day).timestamp())
