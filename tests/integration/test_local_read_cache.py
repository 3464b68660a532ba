"""The local API answers repeated GETs from memory (agent/read_cache.c):
never with a stale answer.  Each change path is tried after the answer was
cached: a write on the socket, a pull by the sync engine (another store
handle), an op settled by a push, and another process writing the file."""
import os
import sqlite3
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agentutil import AgentEnv  # noqa: E402


class ReadCacheTest(unittest.TestCase):
    def setUp(self):
        self.env = AgentEnv(technician=None)
        self.env.__enter__()
        self.agent = self.env.agent
        self.sim = self.env.sim
        self.agent.sync()
        self.conn = self.agent.connect()

    def tearDown(self):
        self.conn.close()
        self.env.close()

    def get(self, path):
        """Asked twice on one kept-alive connection: the second answer
        comes from the cache, and both must agree."""
        first = self.agent.request("GET", path, conn=self.conn)
        second = self.agent.request("GET", path, conn=self.conn)
        self.assertEqual(first.status, 200, first)
        self.assertEqual(first.body, second.body)
        return second.json()

    def wo_list(self, wid):
        page = self.get("/api/v1/work-orders?per_page=100")["data"]
        return [w for w in page if w["id"] == wid][0]

    def test_a_write_on_the_socket_shows_at_once(self):
        wid = "wo-00001"
        self.get("/api/v1/work-orders/" + wid)
        self.wo_list(wid)
        r = self.agent.request("PUT", "/api/v1/work-orders/" + wid, {"priority": "urgent"},
                               conn=self.conn)
        self.assertEqual(r.status, 200, r)
        wo = self.get("/api/v1/work-orders/" + wid)["data"]
        self.assertEqual(wo["priority"], "urgent")
        self.assertEqual(wo["_sync"]["state"], "pending")
        self.assertEqual(self.wo_list(wid)["priority"], "urgent")

    def test_a_pull_and_a_push_show_at_once(self):
        wid = "wo-00002"
        before = self.get("/api/v1/work-orders/" + wid)["data"]
        new = "cache test %s" % before["updated_at"]
        r = self.sim.api("PUT", "/api/v1/work-orders/" + wid, {"description": new})
        self.assertEqual(r.status, 200, r)
        self.agent.sync()
        self.assertEqual(self.get("/api/v1/work-orders/" + wid)["data"]["description"], new)
        # a local edit, cached while pending, then settled by the push
        r = self.agent.request("PUT", "/api/v1/work-orders/" + wid, {"priority": "low"},
                               conn=self.conn)
        self.assertEqual(self.get("/api/v1/work-orders/" + wid)["data"]["_sync"]["state"],
                         "pending")
        self.agent.sync()
        self.assertEqual(self.get("/api/v1/work-orders/" + wid)["data"]["_sync"]["state"],
                         "synced")

    def test_another_process_writing_the_file_shows(self):
        cid = "cust-001"
        self.get("/api/v1/customers/" + cid)
        db = sqlite3.connect(self.agent.db, timeout=10)
        db.execute("UPDATE records SET body = json_set(body, '$.name', 'Renamed Elsewhere') "
                   "WHERE entity = 0 AND id = ?", (cid,))
        db.commit()
        db.close()
        self.assertEqual(self.get("/api/v1/customers/" + cid)["data"]["name"],
                         "Renamed Elsewhere")


if __name__ == "__main__":
    unittest.main(verbosity=2)
