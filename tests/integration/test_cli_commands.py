#!/usr/bin/env python3
"""fieldsync (the CLI) against a fake fieldsyncd (cliutil.FakeDaemon).

The fake speaks HTTP/1.1 on a Unix socket with the local API's shapes
(DESIGN §6), answers what each test sets up and records every request, so
each command is checked for the method, path, query and body it sends, for
its table and --json output, and for its error lines and exit statuses.
"""
import json
import os
import socket
import unittest

from cliutil import STATUS, SUMMARY, CliCase


WO_LIST = {
    "data": [
        {"id": "wo-12345", "work_order_number": "WO-2024-001", "status": "open",
         "customer": {"id": "cust-001", "name": "Acme Corp"},
         "scheduled_date": "2024-01-27T09:00:00Z", "priority": "high",
         "created_at": "2024-01-20T14:30:00Z", "_sync": {"state": "synced"}},
        {"id": "local-7d2c", "work_order_number": None, "status": "draft",
         "customer": {"id": "cust-002", "name": "Globex"},
         "scheduled_date": None, "priority": "low",
         "created_at": "2024-01-21T08:00:00Z", "_sync": {"state": "pending"}},
    ],
    "meta": {"current_page": 1, "total_pages": 3, "total_count": 47},
}

WO = {"data": {
    "id": "wo-12345", "work_order_number": "WO-2024-001", "status": "open",
    "priority": "high", "description": "Annual HVAC maintenance\nBring ladder",
    "customer": {"id": "cust-001", "name": "Acme Corp"},
    "technician": {"id": "tech-001", "name": "Jane Doe"},
    "tasks": [{"id": "task-001", "name": "Inspect filters", "status": "pending"}],
    "estimated_duration": 120, "created_at": "2024-01-20T14:30:00Z",
    "updated_at": "2024-01-25T10:15:00Z", "_sync": {"state": "pending"}}}

VALIDATION = (422, {"error": {"code": "validation_error", "message": "Validation failed",
                              "details": [{"field": "customer_id",
                                           "message": "Customer not found"}]}})


class HelpAndUsage(CliCase):
    GROUPS = {
        "work-orders": ["list", "show", "create", "update", "delete"],
        "customers": ["list", "show", "create", "update", "delete"],
        "contacts": ["list", "show", "create", "update", "delete"],
        "assets": ["list"],
        "outbox": ["list", "retry", "discard"],
        "conflicts": ["list", "show", "resolve"],
        "status": [], "sync": [], "watch": [],
    }

    def test_version(self):
        rc, out, err = self.cli("--version", socket=False)
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"^fieldsync \d+\.\d+\.\d+\n$")

    def test_top_help_documents_exit_statuses(self):
        for args in (["--help"], ["help"], ["-h"]):
            rc, out, err = self.cli(*args, socket=False)
            self.assertEqual(rc, 0, args)
            self.assertIn("usage: fieldsync", out)
            for code in ("0  success", "1  the daemon answered an error", "2  usage error",
                         "3  cannot reach the daemon", "4  'sync --wait' finished"):
                self.assertIn(code, out)
            for group in self.GROUPS:
                self.assertIn("  " + group, out)
            self.assertEqual(err, "")

    def test_every_command_has_help(self):
        for group, subs in self.GROUPS.items():
            for argv in [[group, "--help"], ["help", group]] + \
                        [[group, s, "--help"] for s in subs] + [["help", group, s] for s in subs]:
                rc, out, err = self.cli(*argv, socket=False)
                self.assertEqual(rc, 0, argv)
                self.assertTrue(out.startswith("usage: fieldsync " + group), (argv, out))
                self.assertEqual(err, "", argv)
        self.assertEqual(self.fake.requests, [])

    def test_help_wins_over_missing_arguments(self):
        rc, out, _ = self.cli("work-orders", "update", "--help")
        self.assertEqual(rc, 0)
        self.assertIn("--set FIELD=VALUE", out)
        self.assertIn("--status S", out)

    def test_usage_errors_exit_2_without_a_request(self):
        cases = [
            ([], "missing command (see 'fieldsync --help')"),
            (["frobnicate"], "unknown command 'frobnicate' (see 'fieldsync --help')"),
            (["--frob", "status"], None),
            (["work-orders"], None),
            (["work-orders", "explode"], None),
            (["work-orders", "list", "--colour"], "work-orders list: unknown option '--colour' "
                                                  "(see 'fieldsync work-orders list --help')"),
            (["work-orders", "list", "--status"], "work-orders list: --status needs a value (S)"),
            (["work-orders", "list", "--page", "0"], None),
            (["work-orders", "list", "--per-page", "ten"], None),
            (["work-orders", "show"], "work-orders show: missing ID"),
            (["work-orders", "show", ""], "work-orders show: ID must not be empty"),
            (["work-orders", "show", "a", "b"], "work-orders show: unexpected argument 'b'"),
            (["work-orders", "create"], "work-orders create: --customer ID is required"),
            (["work-orders", "update", "wo-1"], None),
            (["work-orders", "update", "wo-1", "--set", "oops"], None),
            (["work-orders", "update", "wo-1", "--set", "=x"], None),
            (["customers", "create"], "customers create: --name NAME is required"),
            (["contacts", "list"], "contacts list: missing CUSTOMER_ID"),
            (["conflicts", "resolve", "3"], None),
            (["conflicts", "resolve", "3", "--keep", "mine"],
             "conflicts resolve: --keep must be local or remote, not 'mine'"),
            (["sync", "--wait=yes"], "sync: --wait takes no value"),
            (["status", "extra"], "status: unexpected argument 'extra'"),
            (["help", "nothing"], None),
            (["--socket"], None),
        ]
        for argv, message in cases:
            self.assertError(self.cli(*argv), 2, message)
        self.assertEqual(self.fake.requests, [])


class Reachability(CliCase):
    def test_no_daemon_exits_3_with_the_path(self):
        path = os.path.join(self.dir, "nobody.sock")
        self.assertError(self.cli("--socket", path, "status", socket=False), 3,
                         "cannot reach fieldsyncd at %s: No such file or directory "
                         "(is the daemon running?)" % path)

    def test_socket_that_refuses(self):
        path = os.path.join(self.dir, "dead.sock")
        s = socket.socket(socket.AF_UNIX)
        s.bind(path)  # bound, never listening: connect is refused
        self.addCleanup(s.close)
        self.assertError(self.cli("--socket", path, "status", socket=False), 3,
                         "cannot reach fieldsyncd at %s: Connection refused "
                         "(is the daemon running?)" % path)

    def test_socket_path_too_long(self):
        rc, out, err = self.cli("--socket", "/tmp/" + "x" * 200, "status", socket=False)
        self.assertEqual(rc, 3)
        self.assertIn("socket path too long", err)

    def test_daemon_hangs_up(self):
        self.fake.routes[("GET", "/agent/status")] = \
            lambda h, req: h.connection.shutdown(socket.SHUT_RDWR)
        rc, out, err = self.cli("status")
        self.assertEqual(rc, 3, err)
        # One clear line, not libcurl's wording.
        self.assertEqual(err, "fieldsync: fieldsyncd stopped (connection closed)\n")

    def _status(self, env, **kw):
        self.fake.route("GET", "/agent/status", body={"data": {"version": "0.1.0"}})
        return self.cli("status", socket=False, env=env, **kw)

    def test_socket_from_environment(self):
        env = dict(self.env, FIELDSYNC_SOCKET=self.fake.path)
        rc, out, err = self._status(env)
        self.assertEqual(rc, 0, err)

    def test_flag_beats_environment(self):
        env = dict(self.env, FIELDSYNC_SOCKET=os.path.join(self.dir, "wrong.sock"))
        rc, out, err = self.cli("--socket", self.fake.path, "status", socket=False, env=env)
        self.assertNotEqual(rc, 3, err)

    def test_socket_from_config_file(self):
        os.mkdir(os.path.join(self.dir, "config", "fieldsync"))
        with open(os.path.join(self.dir, "config", "fieldsync", "config"), "w") as f:
            f.write("# fieldsync\napi_url = http://x/api/v1\n  socket = \"%s\"  \n" % self.fake.path)
        rc, out, err = self._status(self.env)
        self.assertEqual(rc, 0, err)

    def test_socket_from_home_config_without_xdg(self):
        d = os.path.join(self.dir, "home", ".config", "fieldsync")
        os.makedirs(d)
        with open(os.path.join(d, "config"), "w") as f:
            f.write("socket=%s\n" % self.fake.path)
        env = {k: v for k, v in self.env.items() if k != "XDG_CONFIG_HOME"}
        rc, out, err = self._status(env)
        self.assertEqual(rc, 0, err)

    def test_socket_in_runtime_dir(self):
        os.symlink(self.fake.path, os.path.join(self.dir, "runtime", "fieldsync.sock"))
        rc, out, err = self._status(self.env)
        self.assertEqual(rc, 0, err)

    def test_fallback_under_tmp(self):
        env = {k: v for k, v in self.env.items() if k != "XDG_RUNTIME_DIR"}
        path = "/tmp/fieldsync-%d/fieldsync.sock" % os.getuid()
        if os.path.exists(path):
            self.skipTest("a daemon's socket exists at " + path)
        rc, out, err = self.cli("status", socket=False, env=env)
        self.assertEqual(rc, 3)
        self.assertIn("cannot reach fieldsyncd at %s:" % path, err)


# What a person sees depends on where and when.  CliCase copies this
# process's environment: times read in UTC here, and no NO_COLOR or
# COLUMNS of the caller's leaks into a test.
os.environ["TZ"] = "UTC"
for _name in ("NO_COLOR", "COLUMNS"):
    os.environ.pop(_name, None)

from ptyutil import fieldsync_binary, run_in_pty  # noqa: E402  (this folder is on sys.path)


def tty(case, *args, columns=80, env=None):
    """case's command with stdout on a terminal `columns` wide."""
    argv = [fieldsync_binary(), "--socket", case.fake.path] + list(args)
    return run_in_pty(argv, env if env is not None else case.env, columns=columns)


class WorkOrders(CliCase):
    def test_list_sends_filters_and_prints_a_table(self):
        self.fake.route("GET", "/api/v1/work-orders", body=WO_LIST)
        rc, out, err = self.cli("work-orders", "list", "--status", "open", "--customer",
                                "cust 001", "--technician=tech-001", "--from", "2024-01-01",
                                "--to", "2024-01-31", "--page", "1", "--per-page", "25")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.last()["raw_query"],
                         "status=open&customer_id=cust%20001&technician_id=tech-001"
                         "&from_date=2024-01-01&to_date=2024-01-31&page=1&per_page=25")
        lines = out.splitlines()
        self.assertRegex(lines[0], r"^ID +NUMBER +STATUS +PRIORITY +SCHEDULED +CUSTOMER +SYNC$")
        # Times in local time (TZ=UTC here), as people read them.
        self.assertRegex(lines[1], r"^wo-12345 +WO-2024-001 +open +high +2024-01-27 09:00 "
                                   r"+Acme Corp +synced$")
        self.assertRegex(lines[2], r"^local-7d2c +- +draft +low +- +Globex +pending$")
        # Columns line up: every SYNC cell starts under its header.
        col = lines[0].index("SYNC")
        self.assertEqual(lines[1].index("synced"), col)
        self.assertEqual(lines[2].index("pending"), col)
        self.assertEqual(lines[3], "page 1 of 3 (47 work orders); next: --page N")
        for line in lines:
            self.assertEqual(line, line.rstrip())

    def test_list_json_is_the_data(self):
        self.fake.route("GET", "/api/v1/work-orders", body=WO_LIST)
        rc, out, err = self.cli("work-orders", "list", "--json")
        self.assertEqual(rc, 0, err)
        # The list as the daemon sent it: data, and meta with the page counts.
        self.assertEqual(json.loads(out), WO_LIST)
        self.assertEqual(self.last()["raw_query"], "")
        self.assertEqual(self.last()["headers"]["accept"], "application/json")

    def test_empty_list(self):
        self.fake.route("GET", "/api/v1/work-orders",
                        body={"data": [], "meta": {"current_page": 1, "total_pages": 0,
                                                   "total_count": 0}})
        rc, out, err = self.cli("work-orders", "list")
        self.assertEqual((rc, out), (0, "no work orders\n"))

    def test_show(self):
        self.fake.route("GET", "/api/v1/work-orders/wo-12345", body=WO)
        rc, out, err = self.cli("work-orders", "show", "wo-12345")
        self.assertEqual(rc, 0, err)
        self.assertIn("id                  wo-12345\n", out)
        self.assertIn("customer            Acme Corp (cust-001)\n", out)
        self.assertIn("description         Annual HVAC maintenance\n"
                      "                    Bring ladder\n", out)
        self.assertIn("tasks\n  - Inspect filters (task-001), status: pending\n", out)
        self.assertIn("estimated_duration  120\n", out)
        self.assertIn("sync                pending\n", out)
        rc, out, err = self.cli("--json", "work-orders", "show", "wo-12345")
        self.assertEqual(json.loads(out), WO["data"])

    def test_show_not_found(self):
        self.assertError(self.cli("work-orders", "show", "wo-999"), 1,
                         "work order wo-999 not found")
        self.assertEqual(self.last()["path"], "/api/v1/work-orders/wo-999")

    def test_ids_are_escaped(self):
        for wo_id, path in [("a/b c", "/api/v1/work-orders/a%2Fb%20c"),
                            ("..", "/api/v1/work-orders/%2E%2E"),
                            ("x?y#z&", "/api/v1/work-orders/x%3Fy%23z%26"),
                            ("é", "/api/v1/work-orders/%C3%A9")]:
            self.fake.route("GET", path, body=WO)
            rc, out, err = self.cli("work-orders", "show", wo_id)
            self.assertEqual(rc, 0, (wo_id, err))
            self.assertEqual(self.last()["path"], path)
        rc, out, err = self.cli("work-orders", "show", "--", "-dash")
        self.assertEqual(self.last()["path"], "/api/v1/work-orders/-dash")

    def test_create_sends_the_write_shape(self):
        created = {"data": {"id": "local-1", "status": "open", "customer": {"id": "cust-001",
                                                                           "name": "Acme"},
                            "_sync": {"state": "pending"}}}
        self.fake.route("POST", "/api/v1/work-orders", 201, created)
        rc, out, err = self.cli("work-orders", "create", "--customer", "cust-001",
                                "--description", "Fix AC", "--priority", "high",
                                "--scheduled", "2024-02-01T10:00:00Z", "--technician",
                                "tech-001", "--set", "estimated_duration:=90",
                                "--set", "notes=Call first")
        self.assertEqual(rc, 0, err)
        req = self.last()
        self.assertEqual(req["method"], "POST")
        self.assertEqual(req["headers"]["content-type"], "application/json")
        self.assertEqual(req["body"], {"customer_id": "cust-001", "description": "Fix AC",
                                       "priority": "high",
                                       "scheduled_date": "2024-02-01T10:00:00Z",
                                       "technician_id": "tech-001", "estimated_duration": 90,
                                       "notes": "Call first"})
        self.assertIn("id        local-1\n", out)
        self.assertIn("sync      pending\n", out)

    def test_create_invalid(self):
        self.fake.routes[("POST", "/api/v1/work-orders")] = VALIDATION
        self.assertError(self.cli("work-orders", "create", "--customer", "cust-nope"), 1,
                         "validation failed: customer_id: Customer not found")

    def test_update_set_values(self):
        self.fake.route("PUT", "/api/v1/work-orders/wo-1", body=WO)
        rc, out, err = self.cli(
            "work-orders", "update", "wo-1", "--status", "in_progress",
            "--set", "estimated_duration:=90", "--set", "billable:=true",
            "--set", "contact_id:=null", "--set", 'code:="007"', "--set", "zip=007",
            "--set", "note=hello world", "--set", "empty=", "--set", "eq=a=b",
            "--set", 'tags:=["a",1]', "--set", 'custom_fields:={"floor":3}',
            "--set", "ratio:=1.5", "--set", "phone=+15551234", "--set", "neg:=-0.5e3",
            "--set", "dot=1.", "--set", "gate=1234", "--set", "yes=true",
            "--set", "status=on_hold")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.last()["method"], "PUT")
        # FIELD=VALUE is a string as typed; FIELD:=JSON a typed value.
        self.assertEqual(self.last()["body"], {
            "status": "on_hold", "estimated_duration": 90, "billable": True, "contact_id": None,
            "code": "007", "zip": "007", "note": "hello world", "empty": "", "eq": "a=b",
            "tags": ["a", 1], "custom_fields": {"floor": 3}, "ratio": 1.5,
            "phone": "+15551234", "neg": -500, "dot": "1.", "gate": "1234", "yes": "true"})

    def test_update_not_found_and_conflict(self):
        self.assertError(self.cli("work-orders", "update", "wo-9", "--status", "open"), 1,
                         "work order wo-9 not found")
        self.fake.route("PUT", "/api/v1/work-orders/wo-1", 409,
                        {"error": {"code": "conflict", "message": "Record has a rejected edit"}})
        self.assertError(self.cli("work-orders", "update", "wo-1", "--status", "open"), 1,
                         "record has a rejected edit")

    def test_delete(self):
        self.fake.route("DELETE", "/api/v1/work-orders/wo-1", 204)
        rc, out, err = self.cli("work-orders", "delete", "wo-1")
        self.assertEqual((rc, out, err), (0, "deleted work order wo-1\n", ""))
        self.assertEqual(self.last()["method"], "DELETE")
        rc, out, err = self.cli("work-orders", "delete", "wo-1", "--json")
        self.assertEqual((rc, out), (0, ""))


class Customers(CliCase):
    LIST = {"data": [
        {"id": "cust-001", "name": "Acme Corporation", "customer_number": "C-10001",
         "status": "active", "email": "contact@acme.com", "phone": "+1-555-123-4567",
         "address": {"street": "123 Main Street", "city": "New York", "state": "NY",
                     "postal_code": "10001", "country": "US"},
         "created_at": "2023-06-15T10:30:00Z", "_sync": {"state": "synced"}},
        {"id": "cust-002", "name": "Ünïcødé Großhandel 東京支店 und ein sehr langer Name GmbH",
         "customer_number": "C-10002", "status": "active", "email": None, "phone": None,
         "address": {"city": "東京"}, "created_at": "2023-06-16T10:30:00Z",
         "_sync": {"state": "conflict"}},
        {"id": "cust-003", "name": "Evil\x1b[31m\x07Corp\u202e", "customer_number": "C-3",
         "status": "inactive", "email": "x@y", "phone": "1", "address": None,
         "created_at": "2023-06-16T10:30:00Z", "_sync": {"state": "rejected"}},
    ], "meta": {"current_page": 1, "total_pages": 1, "total_count": 3}}

    def test_list_filters(self):
        self.fake.route("GET", "/api/v1/customers", body=self.LIST)
        rc, out, err = self.cli("customers", "list", "--search", "acme & co", "--status",
                                "active", "--branch", "branch-001", "--created-after",
                                "2023-01-01", "--page", "2", "--per-page", "100")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.last()["query"], {
            "search": ["acme & co"], "status": ["active"], "branch_id": ["branch-001"],
            "created_after": ["2023-01-01"], "page": ["2"], "per_page": ["100"]})
        self.assertIn("search=acme%20%26%20co", self.last()["raw_query"])

    def test_table_truncates_and_stays_printable(self):
        self.fake.route("GET", "/api/v1/customers", body=self.LIST)
        # On a terminal (wide enough for every column at its max) the long
        # name is cut to 30 columns with an ellipsis, on a character boundary.
        rc, out, err = tty(self, "customers", "list", columns=200,
                                env=dict(self.env, NO_COLOR="1"))
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertRegex(lines[0], r"^ID +NUMBER +NAME +STATUS +EMAIL +PHONE +CITY +SYNC$")
        self.assertIn("Acme Corporation", lines[1])
        self.assertIn("New York", lines[1])
        self.assertIn("\u2026", lines[2])
        self.assertNotIn("ein sehr langer Name GmbH", lines[2])
        self.assertIn("東京", lines[2])
        out.encode("utf-8")  # decodes and re-encodes: no broken sequences
        self.assertNotIn("\ufffd", out)
        # Control characters from the daemon never reach the terminal.
        self.assertNotIn("\x1b", out)
        self.assertNotIn("\x07", out)
        self.assertNotIn("\u202e", out)
        self.assertIn("Evil [31m Corp", lines[3])
        self.assertTrue(lines[1].endswith("synced"))
        self.assertTrue(lines[2].endswith("conflict"))
        self.assertTrue(lines[3].endswith("rejected"))
        self.assertEqual(len(lines), 4)  # one page: no footer
        # Into a pipe nothing is cut: a script gets the whole name.
        rc, out, err = self.cli("customers", "list")
        self.assertEqual(rc, 0, err)
        self.assertIn("Ünïcødé Großhandel 東京支店 und ein sehr langer Name GmbH", out)
        self.assertNotIn("\u2026", out)
        self.assertNotIn("\x1b", out)

    def test_show_nested(self):
        self.fake.route("GET", "/api/v1/customers/cust-001", body={"data": {
            "id": "cust-001", "name": "Acme", "address": {"street": "1 Main", "city": "NYC"},
            "branch": {"id": "branch-001", "name": "Northeast"},
            "contacts": [{"id": "contact-001", "name": "John Smith", "is_primary": True}],
            "custom_fields": {}, "_sync": {"state": "synced"}}})
        rc, out, err = self.cli("customers", "show", "cust-001")
        self.assertEqual(rc, 0, err)
        self.assertIn("address\n  street  1 Main\n  city    NYC\n", out)
        self.assertIn("branch         Northeast (branch-001)\n", out)
        self.assertIn("contacts\n  - John Smith (contact-001), is_primary: yes\n", out)
        self.assertIn("custom_fields  -\n", out)
        self.assertIn("sync           synced\n", out)

    def test_create_update_delete(self):
        self.fake.route("POST", "/api/v1/customers", 201,
                        {"data": {"id": "local-9", "name": "New Co", "status": "active"}})
        rc, out, err = self.cli("customers", "create", "--name", "New Co", "--email",
                                "a@b.c", "--branch", "branch-002",
                                "--set", 'address:={"city":"Chicago"}')
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.last()["body"], {"name": "New Co", "email": "a@b.c",
                                               "branch_id": "branch-002",
                                               "address": {"city": "Chicago"}})
        self.fake.route("PUT", "/api/v1/customers/cust-001", body={"data": {"id": "cust-001"}})
        rc, out, err = self.cli("customers", "update", "cust-001", "--phone", "555",
                                "--set", "notes=VIP")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.last()["body"], {"phone": "555", "notes": "VIP"})
        self.fake.route("DELETE", "/api/v1/customers/cust-001", 409, {"error": {
            "code": "conflict", "message": "Customer has active work orders"}})
        self.assertError(self.cli("customers", "delete", "cust-001"), 1,
                         "customer has active work orders")
        self.assertError(self.cli("customers", "delete", "cust-404"), 1,
                         "customer cust-404 not found")


class ContactsAndAssets(CliCase):
    def test_contacts(self):
        self.fake.route("GET", "/api/v1/customers/cust-001/contacts", body={"data": [
            {"id": "contact-001", "name": "John Smith", "title": "Facilities Manager",
             "email": "jsmith@acme.com", "phone": "+1-555-111-2222", "is_primary": True,
             "_sync": {"state": "synced"}}]})
        rc, out, err = self.cli("contacts", "list", "cust-001")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out.splitlines()[0], r"^ID +NAME +TITLE +EMAIL +PHONE +PRIMARY +SYNC$")
        self.assertRegex(out.splitlines()[1], r"^contact-001 +John Smith +Facilities Manager "
                                              r"+jsmith@acme.com +\+1-555-111-2222 +yes +synced$")
        self.assertError(self.cli("contacts", "list", "cust-404"), 1,
                         "customer cust-404 not found")
        self.fake.route("POST", "/api/v1/customers/cust-001/contacts", 201,
                        {"data": {"id": "local-c1", "name": "Jane Doe"}})
        rc, out, err = self.cli("contacts", "create", "cust-001", "--name", "Jane Doe",
                                "--title", "Ops", "--set", "is_primary:=false")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.last()["body"], {"name": "Jane Doe", "title": "Ops",
                                               "is_primary": False})
        self.fake.route("GET", "/api/v1/contacts/contact-001",
                        body={"data": {"id": "contact-001", "name": "John Smith"}})
        rc, out, err = self.cli("contacts", "show", "contact-001", "--json")
        self.assertEqual(json.loads(out), {"id": "contact-001", "name": "John Smith"})
        self.fake.route("PUT", "/api/v1/contacts/contact-001", body={"data": {"id": "c"}})
        rc, out, err = self.cli("contacts", "update", "contact-001", "--email", "j@x.io")
        self.assertEqual((rc, self.last()["body"]), (0, {"email": "j@x.io"}))
        self.fake.route("DELETE", "/api/v1/contacts/contact-001", 204)
        rc, out, err = self.cli("contacts", "delete", "contact-001")
        self.assertEqual((rc, out), (0, "deleted contact contact-001\n"))
        self.assertError(self.cli("contacts", "delete", "contact-404"), 1,
                         "contact contact-404 not found")

    def test_assets(self):
        self.fake.route("GET", "/api/v1/customers/cust-001/assets", body={"data": [
            {"id": "asset-1", "customer_id": "cust-001", "name": "Rooftop unit",
             "asset_type": "hvac", "manufacturer": "Carrier", "model": "48TC",
             "serial_number": "SN-1", "_sync": {"state": "synced"}}]})
        rc, out, err = self.cli("assets", "list", "cust-001")
        self.assertEqual(rc, 0, err)
        self.assertRegex(out.splitlines()[1],
                         r"^asset-1 +Rooftop unit +hvac +Carrier +48TC +SN-1 +synced$")
        rc, out, err = self.cli("assets", "list", "cust-001", "--json")
        self.assertEqual(json.loads(out)["data"][0]["serial_number"], "SN-1")


class AgentCommands(CliCase):
    def test_status(self):
        self.fake.route("GET", "/agent/status", body=STATUS)
        rc, out, err = self.cli("status")
        # A rejected edit needs a person: exit status 4, and the first line says so.
        self.assertEqual((rc, err), (4, ""))
        self.assertTrue(out.startswith("ATTENTION     1 edit rejected by the remote "
                                       "(see 'fieldsync outbox')"), out)
        # Local time; "1044 d ago" would say less than the date does.
        self.assertIn("\nlast sync     2024-01-27 10:00\n", out)
        for line in ("version       0.1.0", "online        no", "syncing       no",
                     "outbox        3 pending, 1 rejected, 0 held",
                     "conflicts     2 open", "last error    connect to api.fentu.io: timed out",
                     "replica       12 customers, 30 contacts, 4 assets, 50 work orders",
                     "clock offset  -42 ms"):
            self.assertIn(line + "\n", out)
        rc, out, err = self.cli("status", "--json")
        self.assertEqual(json.loads(out), STATUS["data"])

    def test_sync_starts(self):
        self.fake.route("POST", "/agent/sync", 202, {"data": {"started": True}})
        rc, out, err = self.cli("sync")
        self.assertEqual((rc, out), (0, "sync started\n"))
        self.assertEqual(self.last()["raw_query"], "")
        self.assertEqual(self.last()["method"], "POST")

    def test_sync_wait_summary(self):
        self.fake.route("POST", "/agent/sync", 200, {"data": SUMMARY})
        rc, out, err = self.cli("sync", "--wait")
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(self.last()["raw_query"], "wait=true")
        self.assertEqual(out, "sync finished in 1.5 s\n"
                              "10 pulled, 30 unchanged, 1 evicted, 0 deleted remotely\n"
                              "2 pushed, 0 conflicts, 0 rejected, 0 retried, 0 errors\n")
        self.assertNotIn("\r", out)  # no progress line when stdout is not a terminal
        rc, out, err = self.cli("--json", "sync", "--wait")
        self.assertEqual((rc, json.loads(out)), (0, SUMMARY))

    def test_sync_wait_exit_4_says_why(self):
        cases = [
            (dict(online=False, last_error="connect: Connection refused"),
             "sync finished, but the remote was unreachable (connect: Connection refused)"),
            (dict(auth_error=True),
             "sync finished, but the remote refused the API key (auth error); edits stay queued"),
            (dict(rejected=2),
             "sync finished, but the remote rejected 2 queued edits (see 'fieldsync outbox')"),
            (dict(rejected=1, online=False),
             "sync finished, but the remote was unreachable; the remote rejected 1 queued edit "
             "(see 'fieldsync outbox')"),
        ]
        for change, message in cases:
            self.fake.route("POST", "/agent/sync", 200, {"data": dict(SUMMARY, **change)})
            rc, out, err = self.cli("sync", "--wait")
            self.assertError((rc, out, err), 4, message)
            self.assertIn("sync finished", out)
            rc, out, err = self.cli("sync", "--wait", "--json")
            self.assertEqual(rc, 4)
            self.assertEqual(json.loads(out), dict(SUMMARY, **change))

    def test_sync_refused(self):
        self.fake.route("POST", "/agent/sync", 503, {"error": {
            "code": "unavailable", "message": "Shutting down"}})
        # The daemon stopped mid-wait: the sync was cancelled, not "incomplete".
        self.assertError(self.cli("sync", "--wait"), 4,
                         "sync cancelled before it finished: shutting down")


OUTBOX = {"data": [
    {"op_id": "0f8e3c1a-5b7d-4e2f-9a6b-1c2d3e4f5a6b", "entity": "work_order",
     "record_id": "wo-12345", "kind": "update", "state": "rejected", "attempts": 3,
     "next_attempt_at": None, "fields": {"status": "done"},
     "base_values": {"status": "open"}, "base_updated_at": "2024-01-25T10:15:00Z",
     "edited_at": "2024-01-26T08:00:00Z",
     "last_error": "422 validation_error: status: must be one of draft, open, assigned"},
    {"op_id": "1a2b", "entity": "customer", "record_id": "local-1", "kind": "create",
     "state": "pending", "attempts": 0, "next_attempt_at": "2024-01-26T08:01:00Z",
     "fields": {"name": "X"}, "base_values": None, "base_updated_at": None,
     "edited_at": "2024-01-26T08:00:00Z", "last_error": None}]}

CONFLICTS = {"data": [
    {"id": 7, "op_id": "1a2b", "entity": "work_order", "record_id": "wo-12345",
     "rule": "both_changed", "outcome": "held", "state": "open",
     "base": {"status": "open", "priority": "low"},
     "local": {"status": "completed", "priority": "high"},
     "remote": {"status": "on_hold", "priority": "medium"},
     "created_at": "2024-01-26T08:00:00Z", "resolved_at": None, "resolution": None}]}


class OutboxAndConflicts(CliCase):
    def test_outbox_list(self):
        self.fake.route("GET", "/agent/outbox", body=OUTBOX)
        for argv in (["outbox"], ["outbox", "list"]):
            rc, out, err = tty(self, *argv, columns=200, env=dict(self.env, NO_COLOR="1"))
            self.assertEqual(rc, 0, err)
            lines = out.splitlines()
            self.assertRegex(lines[0], r"^OP +ENTITY +RECORD +KIND +STATE +ATTEMPTS "
                                       r"+NEXT ATTEMPT +ERROR$")
            self.assertTrue(lines[1].startswith("0f8e3c1a-5b7d-4e2f-9a6b-1c2d3e4f5a6b  work_order"))
            self.assertIn("rejected         3", lines[1])  # counts right-aligned
            self.assertTrue(lines[1].endswith("\u2026"))    # long error cut
        rc, out, err = self.cli("outbox", "--json")
        self.assertEqual(json.loads(out), {"data": OUTBOX["data"]})

    def test_retry_and_discard(self):
        self.fake.route("POST", "/agent/outbox/1a2b/retry", 200,
                        {"data": {"op_id": "1a2b", "state": "pending"}})
        rc, out, err = self.cli("outbox", "retry", "1a2b")
        self.assertEqual((rc, out), (0, "retrying outbox op 1a2b\n"))
        self.assertEqual(self.last()["method"], "POST")
        rc, out, err = self.cli("outbox", "retry", "1a2b", "--json")
        self.assertEqual(json.loads(out), {"op_id": "1a2b", "state": "pending"})
        self.fake.route("DELETE", "/agent/outbox/1a2b", 204)
        rc, out, err = self.cli("outbox", "discard", "1a2b")
        self.assertEqual((rc, out), (0, "discarded outbox op 1a2b\n"))
        self.assertError(self.cli("outbox", "discard", "nope"), 1, "outbox op nope not found")
        self.assertError(self.cli("outbox", "retry", "nope"), 1, "outbox op nope not found")

    def test_conflicts(self):
        self.fake.route("GET", "/agent/conflicts", body=CONFLICTS)
        rc, out, err = self.cli("conflicts")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.last()["raw_query"], "")
        lines = out.splitlines()
        self.assertRegex(lines[0], r"^ID +ENTITY +RECORD +FIELDS +RULE +OUTCOME +STATE +CREATED$")
        self.assertRegex(lines[1], r"^7 +work_order +wo-12345 +status, priority +both_changed "
                                   r"+held +open +2024-01-26 08:00$")
        rc, out, err = self.cli("conflicts", "list", "--open")
        self.assertEqual(self.last()["raw_query"], "state=open")
        rc, out, err = self.cli("conflicts", "--open", "--json")
        self.assertEqual(self.last()["raw_query"], "state=open")
        self.assertEqual(json.loads(out), {"data": CONFLICTS["data"]})

    def test_conflict_show(self):
        self.fake.route("GET", "/agent/conflicts", body=CONFLICTS)
        rc, out, err = self.cli("conflicts", "show", "7")
        self.assertEqual(rc, 0, err)
        self.assertIn("record_id    wo-12345\n", out)
        # Each field with its three values whole, one per line (issue 13).
        self.assertTrue(out.endswith("\n\nstatus\n  base    open\n  local   completed\n"
                                     "  remote  on_hold\n\npriority\n  base    low\n"
                                     "  local   high\n  remote  medium\n"), out)
        rc, out, err = self.cli("conflicts", "show", "7", "--json")
        self.assertEqual(json.loads(out), CONFLICTS["data"][0])
        self.assertError(self.cli("conflicts", "show", "8"), 1, "conflict 8 not found")

    def test_resolve(self):
        self.fake.route("POST", "/agent/conflicts/7/resolve", 200,
                        {"data": dict(CONFLICTS["data"][0], state="resolved")})
        rc, out, err = self.cli("conflicts", "resolve", "7", "--keep", "remote")
        self.assertEqual((rc, out), (0, "resolved conflict 7\n"))
        self.assertEqual(self.last()["body"], {"keep": "remote"})
        self.assertError(self.cli("conflicts", "resolve", "9", "--keep=local"), 1,
                         "conflict 9 not found")
        self.assertEqual(self.last()["body"], {"keep": "local"})


class BadAnswers(CliCase):
    def test_error_without_json(self):
        self.fake.route("GET", "/agent/status", 500, "oops", "text/plain")
        self.assertError(self.cli("status"), 1, "fieldsyncd answered HTTP 500")

    def test_error_details_without_field(self):
        self.fake.route("GET", "/api/v1/work-orders", 400, {"error": {
            "code": "bad_request", "message": "Bad request",
            "details": [{"field": "per_page", "message": "must be at most 100"},
                        {"message": "unknown parameter"}]}})
        self.assertError(self.cli("work-orders", "list"), 1,
                         "bad request: per_page: must be at most 100; unknown parameter")

    def test_not_json(self):
        self.fake.route("GET", "/agent/status", 200, "<html>", "text/html")
        self.assertError(self.cli("status"), 1, "fieldsyncd sent an unexpected answer: not JSON")

    def test_wrong_shape(self):
        self.fake.route("GET", "/api/v1/work-orders", 200, {"data": {"id": "x"}})
        self.assertError(self.cli("work-orders", "list"), 1,
                         "fieldsyncd sent an unexpected answer: \"data\" is not a list")
        self.fake.route("GET", "/agent/status", 200, {"nodata": 1})
        self.assertError(self.cli("status"), 1, "fieldsyncd sent an unexpected answer: no \"data\"")

    def test_answer_too_large(self):
        def huge(h, req):
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(65 * 1024 * 1024))
            h.end_headers()
            h.wfile.write(b'{"data":')
            h.close_connection = True
        self.fake.routes[("GET", "/agent/status")] = huge
        self.assertError(self.cli("status"), 1, "fieldsyncd's answer is larger than 64 MiB")


if __name__ == "__main__":
    unittest.main(verbosity=1)
