#!/usr/bin/env python3
"""fieldsync-sim against the two spec pages (customers, work orders) and
DESIGN.md §7: shapes, filters, pagination, errors, ETags, idempotency,
gzip, clock, trash, persistence, determinism, keep-alive and the CLI."""
import datetime
import email.utils
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from simutil import Sim, SimTestCase, sanitizer_trouble, sim_binary  # noqa: E402

TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
ADDRESS_KEYS = ["street", "city", "state", "postal_code", "country"]
CUSTOMER_SUMMARY_KEYS = ["id", "name", "customer_number", "status", "email", "phone",
                         "address", "created_at"]
CUSTOMER_DETAIL_KEYS = ["id", "name", "customer_number", "status", "customer_type",
                        "email", "phone", "fax", "website", "address", "billing_address",
                        "contacts", "branch", "tax_id", "payment_terms", "notes",
                        "custom_fields", "created_at", "updated_at"]
EMBEDDED_CONTACT_KEYS = ["id", "name", "title", "email", "phone", "is_primary"]
CONTACT_KEYS = ["id", "customer_id", "name", "title", "email", "phone", "is_primary",
                "created_at", "updated_at"]
ASSET_KEYS = ["id", "customer_id", "name", "asset_type", "manufacturer", "model",
              "serial_number", "install_date", "location", "status", "created_at",
              "updated_at"]
WO_SUMMARY_KEYS = ["id", "work_order_number", "status", "customer", "scheduled_date",
                   "priority", "created_at"]
WO_DETAIL_KEYS = ["id", "work_order_number", "status", "priority", "work_order_type",
                  "description", "notes", "customer", "contact", "scheduled_date",
                  "estimated_duration", "technician", "tasks", "created_at", "updated_at"]
WO_STATUSES = ["draft", "open", "assigned", "in_progress", "on_hold", "completed",
               "cancelled"]

# The spec pages' example request bodies, verbatim.
SPEC_CUSTOMER_CREATE = {
    "name": "New Company Inc", "customer_type": "commercial",
    "email": "info@newcompany.com", "phone": "+1-555-999-8888",
    "address": {"street": "789 Business Blvd", "city": "Chicago", "state": "IL",
                "postal_code": "60601", "country": "US"},
    "branch_id": "branch-002", "payment_terms": "net30"}
SPEC_CUSTOMER_UPDATE = {"email": "newemail@company.com", "phone": "+1-555-888-7777",
                        "notes": "Updated contact information"}
SPEC_CONTACT_CREATE = {"name": "Jane Doe", "title": "Operations Manager",
                       "email": "jdoe@company.com", "phone": "+1-555-222-3333",
                       "is_primary": False}
SPEC_WO_CREATE = {"customer_id": "cust-001", "contact_id": "contact-001",
                  "work_order_type": "service", "priority": "medium",
                  "description": "Repair air conditioning unit",
                  "scheduled_date": "2024-02-01T10:00:00Z", "estimated_duration": 90,
                  "technician_id": "tech-001",
                  "notes": "Customer requests morning appointment"}
SPEC_WO_CREATE_CURL = {"customer_id": "cust-001", "work_order_type": "service",
                       "priority": "medium",
                       "description": "Repair air conditioning unit"}
SPEC_WO_UPDATE = {"status": "in_progress", "technician_id": "tech-002",
                  "scheduled_date": "2024-02-02T14:00:00Z"}


def ms(ts):
    """An API timestamp as integer milliseconds since the epoch."""
    d = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ")
    d = d.replace(tzinfo=datetime.timezone.utc)
    return int(d.timestamp() * 1000 + 0.5)


class SimCase(SimTestCase):
    """One sim per class; its data is reset before each test."""

    def setUp(self):
        self.sim.reset()

    # -- helpers -----------------------------------------------------------
    def ok(self, method, path, body=None, status=200, headers=None):
        r = self.sim.api(method, path, body, headers)
        self.assertEqual(r.status, status, r.body)
        return r.json() if r.body else None

    def error(self, method, path, body, status, code, field=None, key=True):
        r = (self.sim.api if key else self.sim.request)(method, path, body)
        self.assertEqual(r.status, status, "%s %s %r → %r" % (method, path, body, r.body))
        err = r.json()["error"]
        self.assertEqual(err["code"], code)
        self.assertIsInstance(err["message"], str)
        if field is not None:
            self.assertIn(field, [d["field"] for d in err["details"]], err)
            for d in err["details"]:
                self.assertEqual(sorted(d), ["field", "message"])
        return err

    def all_items(self, path):
        sep = "&" if "?" in path else "?"
        items, page = [], 1
        while True:
            body = self.ok("GET", "%s%spage=%d&per_page=100" % (path, sep, page))
            items += body["data"]
            if page >= body["meta"]["total_pages"]:
                return items
            page += 1

    def ids(self, path):
        return [x["id"] for x in self.all_items(path)]

    def assert_meta(self, body, page, total, per_page):
        self.assertEqual(sorted(body), ["data", "meta"])
        self.assertEqual(body["meta"], {"current_page": page,
                                        "total_pages": -(-total // per_page),
                                        "total_count": total})

    def new_customer(self, name, **fields):
        fields["name"] = name
        return self.ok("POST", "/api/v1/customers", fields, 201)["data"]

    def new_work_order(self, customer_id, **fields):
        fields["customer_id"] = customer_id
        return self.ok("POST", "/api/v1/work-orders", fields, 201)["data"]

    def customer_with_contact(self):
        for c in self.sim.state()["customers"]:
            if c["contacts"]:
                return c
        self.fail("no seeded customer has contacts")


class CustomersTest(SimCase):
    def test_list_default_page_is_25_summaries_ordered_by_id(self):
        body = self.ok("GET", "/api/v1/customers")
        self.assert_meta(body, 1, 100, 25)
        self.assertEqual(len(body["data"]), 25)
        ids = [c["id"] for c in body["data"]]
        self.assertEqual(ids, ["cust-%03d" % i for i in range(1, 26)])
        for c in body["data"]:
            self.assertEqual(list(c), CUSTOMER_SUMMARY_KEYS)
            self.assertEqual(list(c["address"]), ADDRESS_KEYS)
            self.assertRegex(c["created_at"], TS)
            self.assertNotIn("updated_at", c)

    def test_per_page_above_100_is_clamped(self):
        self.sim.reset(customers=150, work_orders=10)
        body = self.ok("GET", "/api/v1/customers?per_page=500")
        self.assertEqual(len(body["data"]), 100)
        self.assert_meta(body, 1, 150, 100)
        body = self.ok("GET", "/api/v1/customers?per_page=100&page=2")
        self.assertEqual(len(body["data"]), 50)
        self.assertEqual(body["data"][0]["id"], "cust-101")

    def test_page_past_the_end_is_empty_with_meta(self):
        body = self.ok("GET", "/api/v1/customers?page=9&per_page=25")
        self.assertEqual(body["data"], [])
        self.assert_meta(body, 9, 100, 25)

    def test_pages_cover_every_customer_once(self):
        ids = self.ids("/api/v1/customers")
        per7 = []
        for page in range(1, 16):
            per7 += [c["id"] for c in self.ok(
                "GET", "/api/v1/customers?per_page=7&page=%d" % page)["data"]]
        self.assertEqual(per7, ids)
        self.assertEqual(len(set(ids)), 100)

    def test_bad_page_parameters_are_400(self):
        for q in ("page=0", "page=-1", "page=abc", "page=1.5", "page=", "per_page=0",
                  "per_page=x", "per_page=-5", "page=2&per_page=%20"):
            with self.subTest(q=q):
                self.error("GET", "/api/v1/customers?" + q, None, 400, "bad_request")
        self.error("GET", "/api/v1/work-orders?page=0", None, 400, "bad_request")
        self.error("GET", "/api/v1/customers/cust-001/contacts?per_page=a", None, 400,
                   "bad_request")

    def test_detail_has_the_full_shape(self):
        c = self.customer_with_contact()
        r = self.sim.api("GET", "/api/v1/customers/" + c["id"])
        self.assertEqual(r.status, 200)
        d = r.json()["data"]
        self.assertEqual(list(r.json()), ["data"])
        self.assertEqual(list(d), CUSTOMER_DETAIL_KEYS)
        self.assertEqual(list(d["address"]), ADDRESS_KEYS)
        self.assertEqual(list(d["billing_address"]), ADDRESS_KEYS)
        self.assertEqual(list(d["branch"]), ["id", "name"])
        for k in d["contacts"]:
            self.assertEqual(list(k), EMBEDDED_CONTACT_KEYS)
        self.assertEqual(sum(k["is_primary"] for k in d["contacts"]), 1)
        self.assertIsInstance(d["custom_fields"], dict)
        self.assertRegex(d["created_at"], TS)
        self.assertRegex(d["updated_at"], TS)
        self.assertIn(d["customer_type"], ("commercial", "residential"))
        self.assertIn(d["payment_terms"],
                      ("due_on_receipt", "net15", "net30", "net45", "net60"))

    def test_spec_example_create(self):
        r = self.sim.api("POST", "/api/v1/customers", SPEC_CUSTOMER_CREATE)
        self.assertEqual(r.status, 201, r.body)
        d = r.json()["data"]
        self.assertEqual(list(d), CUSTOMER_DETAIL_KEYS)
        self.assertEqual(d["id"], "cust-101")
        self.assertEqual(d["customer_number"], "C-10101")
        self.assertEqual(d["status"], "active")
        for k in ("name", "customer_type", "email", "phone", "address", "payment_terms"):
            self.assertEqual(d[k], SPEC_CUSTOMER_CREATE[k])
        self.assertEqual(d["branch"], {"id": "branch-002", "name": d["branch"]["name"]})
        self.assertEqual(d["contacts"], [])
        self.assertEqual(d["created_at"], d["updated_at"])
        self.assertEqual(self.ok("GET", "/api/v1/customers/cust-101")["data"], d)

    def test_spec_example_update_changes_only_the_given_fields(self):
        before = self.ok("GET", "/api/v1/customers/cust-002")["data"]
        after = self.ok("PUT", "/api/v1/customers/cust-002", SPEC_CUSTOMER_UPDATE)["data"]
        for k in CUSTOMER_DETAIL_KEYS:
            if k in SPEC_CUSTOMER_UPDATE:
                self.assertEqual(after[k], SPEC_CUSTOMER_UPDATE[k])
            elif k != "updated_at":
                self.assertEqual(after[k], before[k], k)
        self.assertGreater(ms(after["updated_at"]), ms(before["updated_at"]))
        self.assertEqual(self.ok("GET", "/api/v1/customers/cust-002")["data"], after)

    def test_spec_example_search_and_search_rules(self):
        acme = self.new_customer("Acme Corporation")
        body = self.ok("GET", "/api/v1/customers?search=acme&per_page=25")
        self.assertIn(acme["id"], [c["id"] for c in body["data"]])
        for c in body["data"]:
            self.assertTrue("acme" in c["name"].lower()
                            or "acme" in c["customer_number"].lower())
        state = self.sim.state()["customers"]
        for term in ("ACME", "c-1000", "C-10042", state[3]["name"][2:7].upper(), "zzzz%_"):
            with self.subTest(term=term):
                want = [c["id"] for c in state
                        if term.lower() in c["name"].lower()
                        or term.lower() in c["customer_number"].lower()]
                got = self.ids("/api/v1/customers?search=" + term.replace(" ", "%20")
                               .replace("%_", "%25_"))
                self.assertEqual(got, want)

    def test_status_and_branch_filters(self):
        state = self.sim.state()["customers"]
        for status in ("active", "inactive"):
            want = [c["id"] for c in state if c["status"] == status]
            self.assertTrue(want)
            self.assertEqual(self.ids("/api/v1/customers?status=" + status), want)
        for branch in ("branch-001", "branch-004"):
            want = [c["id"] for c in state if c["branch"]["id"] == branch]
            self.assertEqual(self.ids("/api/v1/customers?branch_id=" + branch), want)
        want = [c["id"] for c in state
                if c["branch"]["id"] == "branch-003" and c["status"] == "active"]
        self.assertEqual(self.ids("/api/v1/customers?branch_id=branch-003&status=active"),
                         want)
        self.error("GET", "/api/v1/customers?status=archived", None, 400, "bad_request")

    def test_created_after_takes_a_date_or_a_date_time(self):
        state = self.sim.state()["customers"]
        cut = sorted(c["created_at"] for c in state)[50]
        want = [c["id"] for c in state if c["created_at"] > cut]
        self.assertEqual(self.ids("/api/v1/customers?created_after=" + cut), want)
        day = cut[:10]
        want = [c["id"] for c in state if c["created_at"] >= day + "T00:00:00.000Z"]
        self.assertEqual(self.ids("/api/v1/customers?created_after=" + day), want)
        new = self.new_customer("Brand New Customer")
        just_before = datetime.datetime.fromtimestamp(
            (ms(new["created_at"]) - 1) / 1000, datetime.timezone.utc)
        q = just_before.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        self.assertEqual(self.ids("/api/v1/customers?created_after=" + q), [new["id"]])
        self.assertEqual(self.ids("/api/v1/customers?created_after=" + new["created_at"]), [])
        for bad in ("yesterday", "2024-13-01", "2024-01-01T00:00:00"):
            self.error("GET", "/api/v1/customers?created_after=" + bad, None, 400,
                       "bad_request")

    def test_duplicate_name_is_409(self):
        self.new_customer("Duplicate Dental LLC")
        for name in ("Duplicate Dental LLC", "  duplicate dental llc ", "DUPLICATE DENTAL LLC"):
            err = self.error("POST", "/api/v1/customers", {"name": name}, 409, "conflict",
                             "name")
            self.assertEqual(err["details"],
                             [{"field": "name",
                               "message": "A customer with this name already exists"}])

    def test_validation_rules(self):
        cases = [
            ({}, "name"), ({"name": ""}, "name"), ({"name": "   "}, "name"),
            ({"name": "x" * 201}, "name"), ({"name": 5}, "name"), ({"name": None}, "name"),
            ({"customer_type": "government"}, "customer_type"),
            ({"status": "archived"}, "status"), ({"payment_terms": "net90"}, "payment_terms"),
            ({"email": "nope"}, "email"), ({"email": 3}, "email"), ({"phone": 123}, "phone"),
            ({"fax": True}, "fax"), ({"website": []}, "website"), ({"tax_id": 1}, "tax_id"),
            ({"notes": {}}, "notes"), ({"branch_id": "branch-999"}, "branch_id"),
            ({"branch_id": 2}, "branch_id"), ({"address": "1 Main St"}, "address"),
            ({"address": {"street": 1}}, "address.street"),
            ({"address": {"zip": "10001"}}, "address.zip"),
            ({"billing_address": []}, "billing_address"),
            ({"custom_fields": {"a": 1}}, "custom_fields.a"),
            ({"custom_fields": ["a"]}, "custom_fields"),
            ({"customer_number": "C-1"}, "customer_number"), ({"foo": 1}, "foo"),
        ]
        before = len(self.sim.state()["customers"])
        for i, (fields, field) in enumerate(cases):
            body = dict({"name": "Valid Name %d" % i}, **fields) if field != "name" else fields
            with self.subTest(body=body):
                err = self.error("POST", "/api/v1/customers", body, 422, "validation_error",
                                 field)
                self.assertEqual(err["message"], "Validation failed")
            if field != "name":
                with self.subTest(put=fields):
                    self.error("PUT", "/api/v1/customers/cust-001", fields, 422,
                               "validation_error", field)
        self.error("PUT", "/api/v1/customers/cust-001", {"name": ""}, 422,
                   "validation_error", "name")
        self.assertEqual(len(self.sim.state()["customers"]), before)
        # what the rules allow
        self.new_customer("x" * 200, email="", customer_type="residential",
                          custom_fields={}, address={"city": "Boston"})
        self.ok("PUT", "/api/v1/customers/cust-001", {"status": "inactive", "email": ""})

    def test_several_problems_are_all_named(self):
        err = self.error("POST", "/api/v1/customers",
                         {"status": "x", "email": "y", "foo": 1}, 422, "validation_error")
        self.assertEqual(sorted(d["field"] for d in err["details"]),
                         ["email", "foo", "name", "status"])

    def test_delete_with_active_work_orders_is_409_then_trash(self):
        cust = self.new_customer("Busy Customer")
        wo = self.new_work_order(cust["id"])
        self.error("DELETE", "/api/v1/customers/" + cust["id"], None, 409, "conflict")
        for status in ("draft", "assigned", "in_progress", "on_hold"):
            self.ok("PUT", "/api/v1/work-orders/" + wo["id"], {"status": status})
            self.error("DELETE", "/api/v1/customers/" + cust["id"], None, 409, "conflict")
        self.ok("PUT", "/api/v1/work-orders/" + wo["id"], {"status": "cancelled"})
        wo2 = self.new_work_order(cust["id"], status="completed")
        r = self.sim.api("DELETE", "/api/v1/customers/" + cust["id"])
        self.assertEqual((r.status, r.body), (204, b""))
        self.error("GET", "/api/v1/customers/" + cust["id"], None, 404, "not_found")
        self.error("GET", "/api/v1/customers/%s/contacts" % cust["id"], None, 404, "not_found")
        self.error("DELETE", "/api/v1/customers/" + cust["id"], None, 404, "not_found")
        self.error("PUT", "/api/v1/customers/" + cust["id"], {"notes": "x"}, 404, "not_found")
        self.assertNotIn(cust["id"], self.ids("/api/v1/customers"))
        state = self.sim.state()
        self.assertEqual(state["trash"]["customers"], [cust["id"]])
        self.assertNotIn(cust["id"], [c["id"] for c in state["customers"]])
        # its finished work orders stay; a trashed customer can take no new ones
        self.assertEqual(self.ok("GET", "/api/v1/work-orders/" + wo2["id"])["data"]["id"],
                         wo2["id"])
        self.error("POST", "/api/v1/work-orders", {"customer_id": cust["id"]}, 422,
                   "validation_error", "customer_id")
        # the name is free again once the customer is in the trash
        self.new_customer("Busy Customer")

    def test_customer_work_orders_list(self):
        state = self.sim.state()["work_orders"]
        cust = max({w["customer"]["id"] for w in state},
                   key=lambda c: sum(w["customer"]["id"] == c for w in state))
        want = [w["id"] for w in state if w["customer"]["id"] == cust]
        body = self.ok("GET", "/api/v1/customers/%s/work-orders" % cust)
        self.assert_meta(body, 1, len(want), 25)
        for w in body["data"]:
            self.assertEqual(list(w), WO_SUMMARY_KEYS)
            self.assertEqual(w["customer"]["id"], cust)
        self.assertEqual(self.ids("/api/v1/customers/%s/work-orders" % cust), want)
        self.error("GET", "/api/v1/customers/cust-999/work-orders", None, 404, "not_found")


class ContactsAndAssetsTest(SimCase):
    def test_contacts_list_is_paginated_with_full_contacts(self):
        c = max(self.sim.state()["customers"], key=lambda x: len(x["contacts"]))
        n = len(c["contacts"])
        body = self.ok("GET", "/api/v1/customers/%s/contacts" % c["id"])
        self.assert_meta(body, 1, n, 25)
        for k in body["data"]:
            self.assertEqual(list(k), CONTACT_KEYS)
            self.assertEqual(k["customer_id"], c["id"])
        self.assertEqual([k["id"] for k in body["data"]], [k["id"] for k in c["contacts"]])
        body = self.ok("GET", "/api/v1/customers/%s/contacts?per_page=1&page=2" % c["id"])
        self.assert_meta(body, 2, n, 1)
        self.assertEqual(body["data"][0]["id"], c["contacts"][1]["id"])
        self.error("GET", "/api/v1/customers/cust-999/contacts", None, 404, "not_found")

    def test_spec_example_contact_create_update_delete(self):
        cust = self.new_customer("Contact Holder Inc")
        r = self.sim.api("POST", "/api/v1/customers/%s/contacts" % cust["id"],
                         SPEC_CONTACT_CREATE)
        self.assertEqual(r.status, 201, r.body)
        k = r.json()["data"]
        self.assertEqual(list(k), CONTACT_KEYS)
        for f, v in SPEC_CONTACT_CREATE.items():
            self.assertEqual(k[f], v)
        self.assertEqual(k["customer_id"], cust["id"])
        detail = self.ok("GET", "/api/v1/customers/" + cust["id"])["data"]
        self.assertEqual(detail["contacts"], [{f: k[f] for f in EMBEDDED_CONTACT_KEYS}])
        self.assertGreater(ms(detail["updated_at"]), ms(cust["updated_at"]))

        u = self.ok("PUT", "/api/v1/contacts/" + k["id"], {"title": "Director"})["data"]
        self.assertEqual(u["title"], "Director")
        self.assertEqual(u["name"], "Jane Doe")
        self.assertGreater(ms(u["updated_at"]), ms(k["updated_at"]))
        r = self.sim.api("DELETE", "/api/v1/contacts/" + k["id"])
        self.assertEqual((r.status, r.body), (204, b""))
        self.assertEqual(self.ok("GET", "/api/v1/customers/%s/contacts" % cust["id"])["data"], [])
        self.assertEqual(self.ok("GET", "/api/v1/customers/" + cust["id"])["data"]["contacts"], [])
        self.assertIn(k["id"], self.sim.state()["trash"]["contacts"])
        self.error("PUT", "/api/v1/contacts/" + k["id"], {"title": "x"}, 404, "not_found")
        self.error("DELETE", "/api/v1/contacts/" + k["id"], None, 404, "not_found")
        self.error("POST", "/api/v1/customers/cust-999/contacts", SPEC_CONTACT_CREATE, 404,
                   "not_found")

    def test_one_primary_contact_per_customer(self):
        cust = self.new_customer("Primary Test Co")
        path = "/api/v1/customers/%s/contacts" % cust["id"]
        a = self.ok("POST", path, {"name": "A One", "is_primary": True}, 201)["data"]
        b = self.ok("POST", path, {"name": "B Two", "is_primary": True}, 201)["data"]
        got = {k["id"]: k["is_primary"] for k in self.ok("GET", path)["data"]}
        self.assertEqual(got, {a["id"]: False, b["id"]: True})
        self.ok("PUT", "/api/v1/contacts/" + a["id"], {"is_primary": True})
        got = {k["id"]: k["is_primary"] for k in self.ok("GET", path)["data"]}
        self.assertEqual(got, {a["id"]: True, b["id"]: False})

    def test_contact_validation(self):
        path = "/api/v1/customers/cust-001/contacts"
        for body, field in (({}, "name"), ({"name": ""}, "name"), ({"name": 1}, "name"),
                            ({"name": "n", "is_primary": "yes"}, "is_primary"),
                            ({"name": "n", "title": 1}, "title"),
                            ({"name": "n", "email": False}, "email"),
                            ({"name": "n", "phone": 5551234}, "phone"),
                            ({"name": "n", "customer_id": "cust-002"}, "customer_id"),
                            ({"name": "n", "nickname": "x"}, "nickname")):
            with self.subTest(body=body):
                self.error("POST", path, body, 422, "validation_error", field)
        k = self.customer_with_contact()["contacts"][0]
        self.error("PUT", "/api/v1/contacts/" + k["id"], {"is_primary": 1}, 422,
                   "validation_error", "is_primary")

    def test_assets_list(self):
        state = self.sim.state()
        owner = max(state["customers"],
                    key=lambda c: sum(a["customer_id"] == c["id"] for a in state["assets"]))
        want = [a for a in state["assets"] if a["customer_id"] == owner["id"]]
        self.assertTrue(1 <= len(want) <= 4)
        body = self.ok("GET", "/api/v1/customers/%s/assets" % owner["id"])
        self.assert_meta(body, 1, len(want), 25)
        self.assertEqual(body["data"], want)
        for a in body["data"]:
            self.assertEqual(list(a), ASSET_KEYS)
            self.assertRegex(a["install_date"], r"^\d{4}-\d{2}-\d{2}$")
        body = self.ok("GET", "/api/v1/customers/%s/assets?per_page=1" % owner["id"])
        self.assert_meta(body, 1, len(want), 1)
        self.error("GET", "/api/v1/customers/cust-999/assets", None, 404, "not_found")


class WorkOrdersTest(SimCase):
    def test_list_default_page_and_summary_shape(self):
        body = self.ok("GET", "/api/v1/work-orders")
        self.assert_meta(body, 1, 500, 25)
        self.assertEqual([w["id"] for w in body["data"]],
                         ["wo-%05d" % i for i in range(1, 26)])
        for w in body["data"]:
            self.assertEqual(list(w), WO_SUMMARY_KEYS)
            self.assertEqual(list(w["customer"]), ["id", "name"])
            self.assertNotIn("updated_at", w)
        body = self.ok("GET", "/api/v1/work-orders?per_page=1000&page=5")
        self.assert_meta(body, 5, 500, 100)
        self.assertEqual(body["data"][-1]["id"], "wo-00500")
        body = self.ok("GET", "/api/v1/work-orders?page=6&per_page=100")
        self.assertEqual(body["data"], [])
        self.assert_meta(body, 6, 500, 100)

    def test_spec_example_list_open(self):
        body = self.ok("GET", "/api/v1/work-orders?status=open&per_page=10")
        want = [w["id"] for w in self.sim.state()["work_orders"] if w["status"] == "open"]
        self.assert_meta(body, 1, len(want), 10)
        self.assertEqual([w["id"] for w in body["data"]], want[:10])
        self.assertTrue(all(w["status"] == "open" for w in body["data"]))

    def test_each_filter_matches_the_state(self):
        state = self.sim.state()["work_orders"]
        for status in WO_STATUSES:
            want = [w["id"] for w in state if w["status"] == status]
            self.assertTrue(want, status)
            self.assertEqual(self.ids("/api/v1/work-orders?status=" + status), want)
        for tech in ("tech-001", "tech-005"):
            want = [w["id"] for w in state
                    if w["technician"] and w["technician"]["id"] == tech]
            self.assertEqual(self.ids("/api/v1/work-orders?technician_id=" + tech), want)
        cust = state[0]["customer"]["id"]
        want = [w["id"] for w in state if w["customer"]["id"] == cust]
        self.assertEqual(self.ids("/api/v1/work-orders?customer_id=" + cust), want)
        days = sorted({w["scheduled_date"][:10] for w in state})
        lo, hi = days[10], days[40]
        for q, pred in (("from_date=" + lo, lambda d: d >= lo),
                        ("to_date=" + hi, lambda d: d <= hi),
                        ("from_date=%s&to_date=%s" % (lo, hi), lambda d: lo <= d <= hi),
                        ("from_date=%s&to_date=%s" % (lo, lo), lambda d: d == lo)):
            want = [w["id"] for w in state if pred(w["scheduled_date"][:10])]
            self.assertTrue(want)
            self.assertEqual(self.ids("/api/v1/work-orders?" + q), want, q)
        q = "status=assigned&technician_id=tech-002&from_date=" + lo
        want = [w["id"] for w in state if w["status"] == "assigned"
                and w["technician"] and w["technician"]["id"] == "tech-002"
                and w["scheduled_date"][:10] >= lo]
        self.assertEqual(self.ids("/api/v1/work-orders?" + q), want)
        for bad in ("status=done", "from_date=2024-1-1", "to_date=tomorrow",
                    "from_date=2024-02-30"):
            self.error("GET", "/api/v1/work-orders?" + bad, None, 400, "bad_request")

    def test_detail_has_the_full_shape(self):
        for w in self.sim.state()["work_orders"][:40]:
            r = self.sim.api("GET", "/api/v1/work-orders/" + w["id"])
            self.assertEqual(r.status, 200)
            d = r.json()["data"]
            self.assertEqual(d, w)
            self.assertEqual(list(d), WO_DETAIL_KEYS)
            self.assertEqual(list(d["customer"]), ["id", "name", "address"])
            self.assertIsInstance(d["customer"]["address"], str)
            if d["contact"] is not None:
                self.assertEqual(list(d["contact"]), ["id", "name", "phone"])
            if d["technician"] is not None:
                self.assertEqual(list(d["technician"]), ["id", "name"])
            self.assertTrue(1 <= len(d["tasks"]) <= 4)
            for t in d["tasks"]:
                self.assertEqual(list(t), ["id", "name", "status"])
            self.assertRegex(d["scheduled_date"], r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
            self.assertRegex(d["updated_at"], TS)

    def test_spec_example_create_full_body(self):
        cust = self.customer_with_contact()
        body = dict(SPEC_WO_CREATE, customer_id=cust["id"],
                    contact_id=cust["contacts"][0]["id"])
        r = self.sim.api("POST", "/api/v1/work-orders", body)
        self.assertEqual(r.status, 201, r.body)
        d = r.json()["data"]
        self.assertEqual(list(d), WO_DETAIL_KEYS)
        self.assertEqual(d["id"], "wo-00501")
        self.assertRegex(d["work_order_number"], r"^WO-\d{4}-000501$")
        self.assertEqual(d["status"], "open")
        self.assertEqual(d["customer"]["id"], cust["id"])
        self.assertEqual(d["customer"]["name"], cust["name"])
        self.assertEqual(d["contact"]["id"], cust["contacts"][0]["id"])
        self.assertEqual(d["technician"]["id"], "tech-001")
        for k in ("work_order_type", "priority", "description", "scheduled_date",
                  "estimated_duration", "notes"):
            self.assertEqual(d[k], body[k])
        self.assertEqual(d["tasks"], [])
        self.assertEqual(self.ok("GET", "/api/v1/work-orders/" + d["id"])["data"], d)

    def test_spec_example_create_curl_body_and_defaults(self):
        d = self.ok("POST", "/api/v1/work-orders", SPEC_WO_CREATE_CURL, 201)["data"]
        self.assertEqual((d["status"], d["priority"]), ("open", "medium"))
        self.assertIsNone(d["technician"])
        self.assertIsNone(d["contact"])
        d = self.new_work_order("cust-001")
        self.assertEqual((d["status"], d["priority"]), ("open", "medium"))

    def test_spec_example_updates(self):
        w = self.ok("GET", "/api/v1/work-orders/wo-00002")["data"]
        u = self.ok("PUT", "/api/v1/work-orders/wo-00002", SPEC_WO_UPDATE)["data"]
        self.assertEqual(u["status"], "in_progress")
        self.assertEqual(u["technician"]["id"], "tech-002")
        self.assertEqual(u["scheduled_date"], "2024-02-02T14:00:00Z")
        for k in ("description", "priority", "customer", "contact", "tasks", "created_at"):
            self.assertEqual(u[k], w[k])
        u2 = self.ok("PUT", "/api/v1/work-orders/wo-00002", {"status": "on_hold"})["data"]
        self.assertEqual(u2["status"], "on_hold")
        self.assertGreater(ms(u2["updated_at"]), ms(u["updated_at"]))
        u3 = self.ok("PUT", "/api/v1/work-orders/wo-00002", {"technician_id": None})["data"]
        self.assertIsNone(u3["technician"])

    def test_spec_example_delete_moves_to_trash(self):
        r = self.sim.api("DELETE", "/api/v1/work-orders/wo-00007")
        self.assertEqual((r.status, r.body), (204, b""))
        self.error("GET", "/api/v1/work-orders/wo-00007", None, 404, "not_found")
        self.error("DELETE", "/api/v1/work-orders/wo-00007", None, 404, "not_found")
        self.error("PUT", "/api/v1/work-orders/wo-00007", {"status": "open"}, 404, "not_found")
        self.assertNotIn("wo-00007", self.ids("/api/v1/work-orders"))
        self.assertEqual(self.ok("GET", "/api/v1/work-orders")["meta"]["total_count"], 499)
        state = self.sim.state()
        self.assertEqual(state["trash"]["work_orders"], ["wo-00007"])
        self.assertNotIn("wo-00007", [w["id"] for w in state["work_orders"]])

    def test_validation_rules(self):
        cust = self.customer_with_contact()
        other = next(c for c in self.sim.state()["customers"]
                     if c["contacts"] and c["id"] != cust["id"])
        base = {"customer_id": cust["id"]}
        cases = [
            ({}, "customer_id", None), ({"customer_id": "cust-999"}, "customer_id",
                                        "Customer not found"),
            ({"customer_id": 1}, "customer_id", None),
            (dict(base, technician_id="tech-999"), "technician_id", "Technician not found"),
            (dict(base, technician_id=7), "technician_id", None),
            (dict(base, contact_id="contact-99999"), "contact_id", None),
            (dict(base, contact_id=other["contacts"][0]["id"]), "contact_id", None),
            (dict(base, status="done"), "status", None),
            (dict(base, priority="critical"), "priority", None),
            (dict(base, work_order_type="demolition"), "work_order_type", None),
            (dict(base, scheduled_date="2024-02-01"), "scheduled_date", None),
            (dict(base, scheduled_date="2024-02-01T10:00:00+01:00"), "scheduled_date", None),
            (dict(base, scheduled_date="2024-02-30T10:00:00Z"), "scheduled_date", None),
            (dict(base, scheduled_date=20240201), "scheduled_date", None),
            (dict(base, estimated_duration=-1), "estimated_duration", None),
            (dict(base, estimated_duration=100001), "estimated_duration", None),
            (dict(base, estimated_duration=1.5), "estimated_duration", None),
            (dict(base, estimated_duration="90"), "estimated_duration", None),
            (dict(base, description="x" * 10001), "description", None),
            (dict(base, description=5), "description", None),
            (dict(base, notes="x" * 10001), "notes", None),
            (dict(base, work_order_number="WO-1"), "work_order_number", None),
            (dict(base, tasks=[]), "tasks", None),
        ]
        for body, field, message in cases:
            with self.subTest(body=str(body)[:80]):
                err = self.error("POST", "/api/v1/work-orders", body, 422,
                                 "validation_error", field)
                if message:
                    self.assertIn({"field": field, "message": message}, err["details"])
            if field != "customer_id" or body:
                put = {k: v for k, v in body.items() if k != "customer_id"} or body
                with self.subTest(put=str(put)[:80]):
                    self.error("PUT", "/api/v1/work-orders/wo-00001", put, 422,
                               "validation_error", field)
        self.assertEqual(self.ok("GET", "/api/v1/work-orders")["meta"]["total_count"], 500)
        # what the rules allow
        w = self.new_work_order(cust["id"], contact_id=cust["contacts"][0]["id"],
                                scheduled_date="2026-03-01T08:30:00.250Z",
                                estimated_duration=100000, description="x" * 10000,
                                technician_id=None, status="draft", priority="urgent",
                                work_order_type="inspection")
        self.assertEqual(w["scheduled_date"], "2026-03-01T08:30:00.250Z")
        self.ok("PUT", "/api/v1/work-orders/" + w["id"], {"estimated_duration": 0})

    def test_changing_customer_drops_a_foreign_contact(self):
        cust = self.customer_with_contact()
        w = self.new_work_order(cust["id"], contact_id=cust["contacts"][0]["id"])
        other = self.new_customer("Other Owner")
        u = self.ok("PUT", "/api/v1/work-orders/" + w["id"], {"customer_id": other["id"]})
        self.assertEqual(u["data"]["customer"]["id"], other["id"])
        self.assertIsNone(u["data"]["contact"])


class ProtocolTest(SimCase):
    def test_401_for_a_missing_or_wrong_key(self):
        for headers in ({}, {"Authorization": "Bearer wrong"},
                        {"Authorization": "Bearer sim-key2"},
                        {"Authorization": "Bearer sim-ke"},
                        {"Authorization": "Basic c2ltLWtleQ=="},
                        {"Authorization": "sim-key"}):
            with self.subTest(headers=headers):
                for method, path in (("GET", "/api/v1/customers"),
                                     ("POST", "/api/v1/work-orders"),
                                     ("GET", "/api/v1/no-such-route")):
                    r = self.sim.request(method, path, "{}", headers)
                    self.assertEqual(r.status, 401)
                    self.assertEqual(r.json()["error"]["code"], "unauthorized")
        # the controls need no key
        self.assertEqual(self.sim.request("GET", "/__sim/stats").status, 200)

    def test_404_for_unknown_ids_and_routes(self):
        for path in ("/api/v1/customers/cust-999", "/api/v1/work-orders/wo-99999",
                     "/api/v1/nope", "/api/v1/customers/cust-001/nope", "/api/v1",
                     "/api/v1/customers/", "/api/v1/customers/cust-001/contacts/x",
                     "/api/v2/customers", "/"):
            with self.subTest(path=path):
                self.error("GET", path, None, 404, "not_found")
        self.error("PUT", "/api/v1/contacts/contact-99999", {"name": "x"}, 404, "not_found")
        self.error("DELETE", "/api/v1/customers/cust-999", None, 404, "not_found")

    def test_405_for_a_wrong_method_on_a_known_route(self):
        for method, path, allow in (
                ("PATCH", "/api/v1/customers/cust-001", "GET, HEAD, PUT, DELETE"),
                ("POST", "/api/v1/customers/cust-001", "GET, HEAD, PUT, DELETE"),
                ("DELETE", "/api/v1/customers", "GET, HEAD, POST"),
                ("GET", "/api/v1/contacts/contact-001", "PUT, DELETE"),
                ("PUT", "/api/v1/work-orders", "GET, HEAD, POST"),
                ("POST", "/api/v1/customers/cust-001/assets", "GET, HEAD")):
            with self.subTest(method=method, path=path):
                r = self.sim.api(method, path, "{}")
                self.assertEqual(r.status, 405)
                self.assertEqual(r.json()["error"]["code"], "method_not_allowed")
                self.assertEqual(r.headers["Allow"], allow)

    def test_400_for_a_body_that_is_not_a_json_object(self):
        for body in ("{bad", "[1, 2]", "", "\"text\"", "42", "null", "{} {}",
                     '{"name": "a", "name": "b"}', "\xff"):
            for method, path in (("POST", "/api/v1/customers"),
                                 ("PUT", "/api/v1/work-orders/wo-00001"),
                                 ("POST", "/api/v1/customers/cust-001/contacts")):
                with self.subTest(body=body, path=path):
                    self.error(method, path, body.encode("latin-1"), 400, "bad_request")
        self.ok("POST", "/api/v1/customers", ' {"name": "Spaced Out"} \n', 201)

    def test_413_for_a_body_over_1_mib(self):
        conn = self.sim.connect()
        try:
            big = b'{"name":"' + b"x" * (1024 * 1024) + b'"}'
            r = self.sim.api("POST", "/api/v1/customers", big, conn=conn)
            self.assertEqual(r.status, 413)
            self.assertEqual(r.json()["error"]["code"], "payload_too_large")
            # the connection survives the refusal
            self.assertEqual(self.sim.api("GET", "/api/v1/customers/cust-001",
                                          conn=conn).status, 200)
        finally:
            conn.close()
        # 1 MiB exactly is accepted (and then judged on its content)
        fits = b'{"notes":"' + b"y" * (1024 * 1024 - 12) + b'"}'
        self.assertEqual(len(fits), 1024 * 1024)
        self.ok("PUT", "/api/v1/customers/cust-001", fits)

    def test_etag_and_304(self):
        for path in ("/api/v1/work-orders/wo-00003", "/api/v1/customers/cust-003"):
            with self.subTest(path=path):
                r = self.sim.api("GET", path)
                etag = r.headers["ETag"]
                self.assertRegex(etag, r'^"[^"]+"$')
                again = self.sim.api("GET", path)
                self.assertEqual(again.headers["ETag"], etag)
                r304 = self.sim.api("GET", path, headers={"If-None-Match": etag})
                self.assertEqual((r304.status, r304.body), (304, b""))
                self.assertEqual(r304.headers["ETag"], etag)
                both = self.sim.api("GET", path,
                                    headers={"If-None-Match": '"other", ' + etag})
                self.assertEqual(both.status, 304)
                other = self.sim.api("GET", path, headers={"If-None-Match": '"nope"'})
                self.assertEqual(other.status, 200)
                self.assertEqual(other.json(), r.json())
                self.ok("PUT", path, {"notes": "changed"})
                changed = self.sim.api("GET", path, headers={"If-None-Match": etag})
                self.assertEqual(changed.status, 200)
                self.assertNotEqual(changed.headers["ETag"], etag)
                self.assertEqual(changed.json()["data"]["notes"], "changed")

    def test_list_page_etag_and_304(self):
        path = "/api/v1/work-orders?per_page=5&page=2"
        r = self.sim.api("GET", path)
        etag = r.headers["ETag"]
        self.assertRegex(etag, r'^"[^"]+"$')
        r304 = self.sim.api("GET", path, headers={"If-None-Match": etag})
        self.assertEqual((r304.status, r304.body), (304, b""))
        # another page, or the same page with other items, has another tag
        self.assertNotEqual(self.sim.api("GET", path.replace("page=2", "page=3"))
                            .headers["ETag"], etag)
        wid = r.json()["data"][0]["id"]
        self.ok("PUT", "/api/v1/work-orders/" + wid, {"priority": "urgent"})
        changed = self.sim.api("GET", path, headers={"If-None-Match": etag})
        self.assertEqual(changed.status, 200)
        self.assertNotEqual(changed.headers["ETag"], etag)

    def test_contact_write_changes_the_customer_etag(self):
        c = self.customer_with_contact()
        path = "/api/v1/customers/" + c["id"]
        etag = self.sim.api("GET", path).headers["ETag"]
        self.ok("PUT", "/api/v1/contacts/" + c["contacts"][0]["id"], {"phone": "+1-555-000-0000"})
        r = self.sim.api("GET", path, headers={"If-None-Match": etag})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["data"]["contacts"][0]["phone"], "+1-555-000-0000")

    def test_contact_write_changes_its_work_orders_etag(self):
        # A work order shows its contact's phone: when that changes, the
        # work order's ETag must change too (its updated_at does not), or a
        # client holding the old tag would keep the old phone for good.
        st = self.sim.state()
        wo = next(w for w in st["work_orders"] if w.get("contact"))
        path = "/api/v1/work-orders/" + wo["id"]
        before = self.sim.api("GET", path)
        etag = before.headers["ETag"]
        self.ok("PUT", "/api/v1/contacts/" + wo["contact"]["id"], {"phone": "+1-555-000-1234"})
        r = self.sim.api("GET", path, headers={"If-None-Match": etag})
        self.assertEqual(r.status, 200)
        self.assertNotEqual(r.headers["ETag"], etag)
        self.assertEqual(r.json()["data"]["contact"]["phone"], "+1-555-000-1234")
        self.assertEqual(r.json()["data"]["updated_at"], before.json()["data"]["updated_at"])

    def test_idempotency_key_replays_the_first_answer(self):
        h = {"Idempotency-Key": "op-1111"}
        first = self.sim.api("POST", "/api/v1/customers", {"name": "Once Only"}, h)
        self.assertEqual(first.status, 201)
        again = self.sim.api("POST", "/api/v1/customers", {"name": "Once Only"}, h)
        self.assertEqual((again.status, again.body), (first.status, first.body))
        self.assertEqual(again.headers["Idempotent-Replayed"], "true")
        self.assertIsNone(first.headers.get("Idempotent-Replayed"))
        self.assertEqual(len(self.sim.state()["customers"]), 101)
        err = self.sim.api("POST", "/api/v1/customers", {"name": "Twice"}, h)
        self.assertEqual(err.status, 422)
        self.assertEqual(err.json()["error"]["code"], "idempotency_key_reused")
        # work orders and contacts too; another key is another create
        wo = {"customer_id": "cust-001"}
        a = self.sim.api("POST", "/api/v1/work-orders", wo, {"Idempotency-Key": "wo-a"})
        b = self.sim.api("POST", "/api/v1/work-orders", wo, {"Idempotency-Key": "wo-a"})
        c = self.sim.api("POST", "/api/v1/work-orders", wo, {"Idempotency-Key": "wo-b"})
        self.assertEqual(a.body, b.body)
        self.assertNotEqual(a.json()["data"]["id"], c.json()["data"]["id"])
        path = "/api/v1/customers/cust-001/contacts"
        k1 = self.sim.api("POST", path, {"name": "K"}, {"Idempotency-Key": "k"})
        k2 = self.sim.api("POST", path, {"name": "K"}, {"Idempotency-Key": "k"})
        self.assertEqual((k1.status, k1.body), (k2.status, k2.body))
        # a refused request does not use up its key
        bad = self.sim.api("POST", "/api/v1/work-orders", {}, {"Idempotency-Key": "fix-me"})
        self.assertEqual(bad.status, 422)
        good = self.sim.api("POST", "/api/v1/work-orders", wo, {"Idempotency-Key": "fix-me"})
        self.assertEqual(good.status, 201)
        self.assertEqual(self.ok("GET", "/api/v1/work-orders")["meta"]["total_count"], 503)
        log = self.sim.control("GET", "log")
        self.assertIn("op-1111", [e["idempotency_key"] for e in log])

    def test_gzip_when_asked(self):
        for path in ("/api/v1/work-orders?per_page=100", "/api/v1/customers/cust-001"):
            plain = self.sim.api("GET", path)
            self.assertIsNone(plain.headers.get("Content-Encoding"))
            self.assertIn("Accept-Encoding", plain.headers["Vary"])
            for ae in ("gzip", "deflate, gzip;q=0.8", "br, GZIP"):
                z = self.sim.api("GET", path, headers={"Accept-Encoding": ae})
                self.assertEqual(z.headers["Content-Encoding"], "gzip")
                self.assertIn("Accept-Encoding", z.headers["Vary"])
                self.assertEqual(z.raw[:2], b"\x1f\x8b")
                self.assertEqual(z.body, plain.body)
            self.assertLess(len(z.raw), len(plain.raw))
            for ae in ("deflate", "gzip;q=0", "identity"):
                r = self.sim.api("GET", path, headers={"Accept-Encoding": ae})
                self.assertIsNone(r.headers.get("Content-Encoding"), ae)

    def test_date_header_on_every_response(self):
        etag = self.sim.api("GET", "/api/v1/work-orders/wo-00001").headers["ETag"]
        answers = [
            self.sim.api("GET", "/api/v1/customers"),
            self.sim.api("POST", "/api/v1/customers", {"name": "Dated"}),
            self.sim.api("DELETE", "/api/v1/work-orders/wo-00002"),
            self.sim.api("GET", "/api/v1/work-orders/wo-00001",
                         headers={"If-None-Match": etag}),
            self.sim.request("GET", "/api/v1/customers"),
            self.sim.api("GET", "/api/v1/nope"),
            self.sim.api("PATCH", "/api/v1/customers"),
            self.sim.api("POST", "/api/v1/customers", "{"),
            self.sim.api("POST", "/api/v1/customers", {}),
            self.sim.request("GET", "/__sim/stats"),
            self.sim.request("GET", "/elsewhere"),
        ]
        self.assertEqual([r.status for r in answers],
                         [200, 201, 204, 304, 401, 404, 405, 400, 422, 200, 404])
        now = datetime.datetime.now(datetime.timezone.utc)
        for r in answers:
            self.assertRegex(r.headers["Date"],
                             r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$")
            d = email.utils.parsedate_to_datetime(r.headers["Date"])
            self.assertLess(abs((d - now).total_seconds()), 120)

    def test_updated_at_rises_strictly_with_every_write(self):
        stamps = [self.ok("GET", "/api/v1/work-orders/wo-00004")["data"]["updated_at"]]
        etags = set()
        for i in range(40):
            r = self.sim.api("PUT", "/api/v1/work-orders/wo-00004", {"notes": "n%d" % i})
            self.assertEqual(r.status, 200)
            stamps.append(r.json()["data"]["updated_at"])
            etags.add(r.headers.get("ETag") or self.sim.api(
                "GET", "/api/v1/work-orders/wo-00004").headers["ETag"])
        for s in stamps:
            self.assertRegex(s, TS)
        values = [ms(s) for s in stamps]
        self.assertEqual(values, sorted(set(values)), "not strictly increasing")
        self.assertEqual(len(etags), 40)
        # an empty update is a write too
        e = self.ok("PUT", "/api/v1/work-orders/wo-00004", {})["data"]["updated_at"]
        self.assertGreater(ms(e), values[-1])
        now_ms = datetime.datetime.now(datetime.timezone.utc).timestamp() * 1000
        self.assertLess(abs(ms(e) - now_ms), 120000)

    def test_keep_alive_reuses_the_connection(self):
        conn = self.sim.connect()
        try:
            r1 = self.sim.api("GET", "/api/v1/work-orders/wo-00001", conn=conn)
            sock = conn.sock
            self.assertIsNotNone(sock)
            r2 = self.sim.api("PUT", "/api/v1/work-orders/wo-00001", {"notes": "ka"},
                              conn=conn)
            r3 = self.sim.api("GET", "/api/v1/customers?per_page=3", conn=conn)
            r4 = self.sim.api("GET", "/api/v1/no-such", conn=conn)
            self.assertEqual([r.status for r in (r1, r2, r3, r4)], [200, 200, 200, 404])
            self.assertIs(conn.sock, sock, "the client had to reconnect")
            for r in (r1, r2, r3, r4):
                self.assertNotEqual((r.headers.get("Connection") or "").lower(), "close")
        finally:
            conn.close()

    def test_head_answers_like_get_without_a_body(self):
        r = self.sim.api("HEAD", "/api/v1/work-orders/wo-00001")
        self.assertEqual((r.status, r.body), (200, b""))
        self.assertTrue(r.headers["ETag"])


class ControlsTest(SimCase):
    def test_state_dump_shape(self):
        s = self.sim.state()
        self.assertEqual(sorted(s), ["assets", "branches", "contacts", "customers",
                                     "technicians", "trash", "work_orders"])
        self.assertEqual(len(s["customers"]), 100)
        self.assertEqual(len(s["work_orders"]), 500)
        self.assertEqual(list(s["customers"][0]), CUSTOMER_DETAIL_KEYS)
        self.assertEqual(list(s["work_orders"][0]), WO_DETAIL_KEYS)
        self.assertEqual(list(s["contacts"][0]), CONTACT_KEYS)
        self.assertEqual(list(s["assets"][0]), ASSET_KEYS)
        self.assertEqual([t["id"] for t in s["technicians"]],
                         ["tech-%03d" % i for i in range(1, 6)])
        self.assertEqual([b["id"] for b in s["branches"]],
                         ["branch-%03d" % i for i in range(1, 5)])
        self.assertEqual(s["trash"], {"customers": [], "contacts": [], "work_orders": []})

    def test_stats_count_by_route_and_status(self):
        self.sim.control("DELETE", "stats")
        etag = None
        for _ in range(3):
            etag = self.sim.api("GET", "/api/v1/work-orders/wo-00010").headers["ETag"]
        self.sim.api("GET", "/api/v1/work-orders/wo-00010", headers={"If-None-Match": etag})
        self.sim.api("GET", "/api/v1/work-orders/wo-99999")
        self.sim.api("GET", "/api/v1/customers/cust-001/contacts")
        st = self.sim.control("GET", "stats")
        self.assertEqual(st["requests"], 6)
        r = st["routes"]["GET /api/v1/work-orders/{id}"]
        self.assertEqual(r["count"], 5)
        self.assertEqual(r["status"], {"200": 3, "304": 1, "404": 1})
        self.assertGreater(r["bytes_out"], 0)
        self.assertEqual(st["routes"]["GET /api/v1/customers/{id}/contacts"]["count"], 1)
        self.assertEqual(st["bytes_out"], sum(x["bytes_out"] for x in st["routes"].values()))
        self.assertEqual(st["delayed"], 0)
        zero = self.sim.control("DELETE", "stats")
        self.assertEqual((zero["requests"], zero["routes"]), (0, {}))

    def test_log_since(self):
        self.sim.api("GET", "/api/v1/customers/cust-001")
        log = self.sim.control("GET", "log")
        self.assertEqual(len(log), 1)
        e = log[0]
        self.assertEqual(sorted(e), sorted(["seq", "time", "method", "path", "status",
                                            "idempotency_key", "applied", "dropped"]))
        self.assertEqual((e["method"], e["path"], e["status"], e["applied"], e["dropped"]),
                         ("GET", "/api/v1/customers/cust-001", 200, False, False))
        self.sim.api("PUT", "/api/v1/customers/cust-001", {"notes": "logged"})
        self.sim.api("POST", "/api/v1/customers", {"name": "Logged"},
                     headers={"Idempotency-Key": "log-key"})
        later = self.sim.control("GET", "log?since=%d" % e["seq"])
        self.assertEqual([(x["method"], x["status"], x["applied"], x["idempotency_key"])
                          for x in later],
                         [("PUT", 200, True, None), ("POST", 201, True, "log-key")])
        self.assertEqual(self.sim.control("GET", "log?since=%d" % later[-1]["seq"]), [])
        self.assertEqual(self.sim.request("GET", "/__sim/log?since=x").status, 400)

    def test_reset_restores_the_seed_and_takes_overrides(self):
        before = self.sim.state()
        self.ok("PUT", "/api/v1/customers/cust-001", {"notes": "temporary"})
        self.ok("DELETE", "/api/v1/work-orders/wo-00001", status=204)
        self.sim.set_faults(latency_ms=1)
        self.sim.reset()
        self.assertEqual(self.sim.state(), before)
        self.assertEqual(self.sim.control("GET", "faults")["latency_ms"], 0)
        self.assertEqual(self.sim.control("GET", "stats")["requests"], 0)
        small = self.sim.reset(seed=9, customers=10, work_orders=20, technicians=2)
        self.assertEqual(small["customers"], 10)
        s = self.sim.state()
        self.assertEqual((len(s["customers"]), len(s["work_orders"]), len(s["technicians"])),
                         (10, 20, 2))
        for bad in ({"customers": -1}, {"seed": "x"}, {"colour": 1}, {"technicians": 1000}):
            r = self.sim.request("POST", "/__sim/reset", bad)
            self.assertEqual(r.status, 400, bad)
        self.assertEqual(self.sim.request("GET", "/__sim/reset").status, 405)
        self.assertEqual(self.sim.request("GET", "/__sim/nothing").status, 404)


class SeedTest(unittest.TestCase):
    def state_of(self, *args):
        with Sim(*args) as sim:
            return sim.state()

    def test_same_seed_same_data_other_seed_other_data(self):
        args = ("--seed", "5", "--customers", "30", "--work-orders", "60")
        # the data follows the UTC day: two runs astride midnight may differ
        for _ in range(2):
            day = datetime.datetime.now(datetime.timezone.utc).date()
            a = self.state_of(*args)
            b = self.state_of(*args)
            if datetime.datetime.now(datetime.timezone.utc).date() == day:
                break
        self.assertEqual(a, b)
        c = self.state_of("--seed", "6", "--customers", "30", "--work-orders", "60")
        self.assertNotEqual(a["customers"], c["customers"])
        self.assertEqual((len(a["customers"]), len(a["work_orders"])), (30, 60))

    def test_seed_data_is_realistic_and_consistent(self):
        s = self.state_of("--technicians", "7")
        today = datetime.datetime.now(datetime.timezone.utc).date()
        self.assertEqual([t["id"] for t in s["technicians"]],
                         ["tech-%03d" % i for i in range(1, 8)])
        self.assertTrue(all(t["name"] for t in s["technicians"]))
        self.assertEqual([c["customer_number"] for c in s["customers"]],
                         ["C-%d" % (10001 + i) for i in range(100)])
        self.assertEqual(len({c["name"].lower() for c in s["customers"]}), 100)
        contacts_by_customer = {}
        for k in s["contacts"]:
            contacts_by_customer.setdefault(k["customer_id"], []).append(k)
        for c in s["customers"]:
            ks = contacts_by_customer.get(c["id"], [])
            self.assertLessEqual(len(ks), 3)
            if ks:
                self.assertEqual(sum(k["is_primary"] for k in ks), 1)
            self.assertIsNotNone(c["address"]["city"])
        per_customer = {}
        for a in s["assets"]:
            per_customer[a["customer_id"]] = per_customer.get(a["customer_id"], 0) + 1
        self.assertLessEqual(max(per_customer.values()), 4)
        self.assertEqual({w["status"] for w in s["work_orders"]}, set(WO_STATUSES))
        self.assertEqual({w["priority"] for w in s["work_orders"]},
                         {"low", "medium", "high", "urgent"})
        contact_owner = {k["id"]: k["customer_id"] for k in s["contacts"]}
        for i, w in enumerate(s["work_orders"], 1):
            self.assertEqual(w["id"], "wo-%05d" % i)
            self.assertRegex(w["work_order_number"], r"^WO-\d{4}-%06d$" % i)
            day = datetime.date.fromisoformat(w["scheduled_date"][:10])
            # a day of slack either side, in case the run crossed midnight
            self.assertTrue(-31 <= (day - today).days <= 61, w["scheduled_date"])
            if w["technician"] is None:
                self.assertIn(w["status"], ("draft", "open"))
            if w["contact"] is not None:
                self.assertEqual(contact_owner[w["contact"]["id"]], w["customer"]["id"])
            self.assertTrue(1 <= len(w["tasks"]) <= 4)
        assigned = sum(w["technician"] is not None for w in s["work_orders"])
        self.assertGreater(assigned, len(s["work_orders"]) * 0.6)


class PersistenceTest(unittest.TestCase):
    def test_db_keeps_records_trash_keys_and_counters_across_a_restart(self):
        with tempfile.TemporaryDirectory(prefix="fieldsync-sim-db-") as tmp:
            path = os.path.join(tmp, "sim.db")
            sim = Sim("--db", path, "--customers", "20", "--work-orders", "40",
                      workdir=tmp).start()
            try:
                created = sim.api("POST", "/api/v1/customers", {"name": "Kept Corp"},
                                  {"Idempotency-Key": "persist-1"})
                self.assertEqual(created.status, 201)
                self.assertEqual(sim.api("DELETE", "/api/v1/work-orders/wo-00003").status, 204)
                self.assertEqual(sim.api("PUT", "/api/v1/work-orders/wo-00004",
                                         {"notes": "kept"}).status, 200)
                before = sim.state()
            finally:
                self.assertEqual(sim.stop(), 0)
            # other seed options: an existing store is never reseeded
            sim = Sim("--db", path, "--seed", "99", "--customers", "3", workdir=tmp).start()
            try:
                self.assertEqual(sim.state(), before)
                self.assertEqual(sim.state()["trash"]["work_orders"], ["wo-00003"])
                replay = sim.api("POST", "/api/v1/customers", {"name": "Kept Corp"},
                                 {"Idempotency-Key": "persist-1"})
                self.assertEqual((replay.status, replay.body), (201, created.body))
                nxt = sim.api("POST", "/api/v1/customers", {"name": "Next Corp"})
                self.assertEqual(nxt.json()["data"]["customer_number"], "C-10022")
                wo = sim.api("POST", "/api/v1/work-orders", {"customer_id": "cust-001"})
                self.assertEqual(wo.json()["data"]["id"], "wo-00041")
            finally:
                self.assertEqual(sim.stop(signal.SIGINT), 0)


class OptionsTest(unittest.TestCase):
    def test_no_idempotency_ignores_the_header(self):
        with Sim("--no-idempotency", "--customers", "5", "--work-orders", "5") as sim:
            h = {"Idempotency-Key": "same"}
            a = sim.api("POST", "/api/v1/work-orders", {"customer_id": "cust-001"}, h)
            b = sim.api("POST", "/api/v1/work-orders", {"customer_id": "cust-001"}, h)
            c = sim.api("POST", "/api/v1/work-orders", {"customer_id": "cust-002"}, h)
            self.assertEqual([a.status, b.status, c.status], [201, 201, 201])
            self.assertEqual(len({x.json()["data"]["id"] for x in (a, b, c)}), 3)

    def test_clock_skew_shifts_stamps_and_date(self):
        for skew in (-7200, 3600):
            with Sim("--clock-skew", str(skew), "--customers", "3",
                     "--work-orders", "3") as sim:
                r = sim.api("POST", "/api/v1/customers", {"name": "Skewed"})
                now = datetime.datetime.now(datetime.timezone.utc)
                date = email.utils.parsedate_to_datetime(r.headers["Date"])
                self.assertLess(abs((date - now).total_seconds() - skew), 60)
                created = ms(r.json()["data"]["created_at"]) / 1000
                self.assertLess(abs(created - now.timestamp() - skew), 60)
                u = sim.api("PUT", "/api/v1/customers/cust-001", {"notes": "x"})
                updated = ms(u.json()["data"]["updated_at"]) / 1000
                self.assertLess(abs(updated - now.timestamp() - skew), 60)

    def test_ipv6_bind(self):
        try:
            probe = socket.socket(socket.AF_INET6)
            probe.bind(("::1", 0))
            probe.close()
        except OSError:
            self.skipTest("no IPv6 loopback here")
        with Sim("--bind", "::1", "--customers", "2", "--work-orders", "0") as sim:
            self.assertRegex(sim.first_line, r"^listening on http://\[::1\]:\d+$")
            self.assertEqual(sim.api("GET", "/api/v1/customers").status, 200)

    def test_api_key_and_bind(self):
        with Sim("--api-key", "s3cret", "--bind", "127.0.0.1", "--customers", "2",
                 "--work-orders", "0", api_key="s3cret") as sim:
            self.assertTrue(sim.first_line.startswith("listening on http://127.0.0.1:"))
            self.assertEqual(sim.api("GET", "/api/v1/customers").status, 200)
            self.assertEqual(sim.request("GET", "/api/v1/customers", key="sim-key").status, 401)


class CommandLineTest(unittest.TestCase):
    def run_sim(self, *args):
        return subprocess.run([sim_binary()] + list(args), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=60)

    def test_help_documents_every_flag_and_control(self):
        p = self.run_sim("--help")
        self.assertEqual(p.returncode, 0)
        for word in ("--port", "--bind", "--api-key", "--db", "--seed", "--customers",
                     "--work-orders", "--technicians", "--clock-skew", "--no-idempotency",
                     "sim-key", "/__sim/faults", "/__sim/state", "/__sim/stats",
                     "/__sim/reset", "/__sim/log", "latency_ms", "error_rate",
                     "error_status", "drop_rate", "drop_after_apply", "rate_429",
                     "retry_after", "bad_body_rate", "offline", "methods", "path_prefix"):
            self.assertIn(word, p.stdout)

    def test_bad_flags_exit_2_with_one_line(self):
        for args in (["--bogus"], ["--port", "abc"], ["--port", "70000"], ["--port"],
                     ["--customers", "-1"], ["--clock-skew", "soon"], ["--seed", "1x"],
                     ["extra"], ["--technicians", "1000"], ["--api-key", ""],
                     ["--po", "8080"], ["--bind", "localhost"], ["--port=x"],
                     ["--customers", "0", "--work-orders", "5"]):
            with self.subTest(args=args):
                p = self.run_sim(*args)
                self.assertEqual(p.returncode, 2)
                self.assertEqual(p.stdout, "")
                self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)

    def test_first_line_then_clean_stop_on_sigterm_and_sigint(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            sim = Sim("--customers", "2", "--work-orders", "2").start()
            try:
                self.assertRegex(sim.first_line, r"^listening on http://127\.0\.0\.1:\d+$")
                self.assertEqual(sim.api("GET", "/api/v1/customers").status, 200)
                conn = sim.connect()
                sim.api("GET", "/api/v1/customers", conn=conn)  # an idle kept-alive client
                self.assertEqual(sim.stop(sig), 0)
                conn.close()
                self.assertFalse(sanitizer_trouble(sim.stderr()), sim.stderr())
            finally:
                sim.close()


if __name__ == "__main__":
    unittest.main(verbosity=1)
