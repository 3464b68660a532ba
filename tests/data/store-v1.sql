-- A fieldsync replica written by store schema version 1 (generated once by
-- that build, then dumped): old files must keep opening and reading.
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE records (  entity INTEGER NOT NULL,  id TEXT NOT NULL,  parent_id TEXT,  body TEXT NOT NULL,  remote_body TEXT,  summary TEXT,  status TEXT,  customer_id TEXT,  contact_id TEXT,  technician_id TEXT,  branch_id TEXT,  sched_day TEXT,  created_at TEXT,  created_ms INTEGER,  name TEXT,  number TEXT,  updated_at TEXT,  updated_ms INTEGER,  etag TEXT,  deleted_locally INTEGER NOT NULL DEFAULT 0,  seen_gen INTEGER NOT NULL DEFAULT 0,  UNIQUE (entity, id));
INSERT INTO records VALUES(0,'cust-1',NULL,'{"id":"cust-1","name":"Acme Corp (edited)","customer_number":"C-1001","status":"active","customer_type":"commercial","email":"info@acme.example","phone":"+1-555-0100","fax":null,"website":null,"address":{"street":"1 Main St","city":"Springfield","state":"IL","postal_code":"62701","country":"US"},"billing_address":null,"contacts":[],"branch":{"id":"branch-001","name":"Midwest"},"tax_id":null,"payment_terms":"net30","notes":null,"custom_fields":{},"created_at":"2023-06-15T10:30:00Z","updated_at":"2024-01-20T14:15:00Z"}','{"id":"cust-1","name":"Acme Corp","customer_number":"C-1001","status":"active","customer_type":"commercial","email":"info@acme.example","phone":"+1-555-0100","fax":null,"website":null,"address":{"street":"1 Main St","city":"Springfield","state":"IL","postal_code":"62701","country":"US"},"billing_address":null,"contacts":[],"branch":{"id":"branch-001","name":"Midwest"},"tax_id":null,"payment_terms":"net30","notes":null,"custom_fields":{},"created_at":"2023-06-15T10:30:00Z","updated_at":"2024-01-20T14:15:00Z"}','{"id":"cust-1","name":"Acme Corp (edited)","customer_number":"C-1001","status":"active","email":"info@acme.example","phone":"+1-555-0100","address":{"street":"1 Main St","city":"Springfield","state":"IL","postal_code":"62701","country":"US"},"created_at":"2023-06-15T10:30:00Z"}','active',NULL,NULL,NULL,'branch-001',NULL,'2023-06-15T10:30:00Z',1686825000000,'Acme Corp (edited)','C-1001','2024-01-20T14:15:00Z',1705760100000,'"v1"',0,1);
INSERT INTO records VALUES(3,'wo-1',NULL,'{"id":"wo-1","work_order_number":"WO-1","status":"open","priority":"high","work_order_type":"service","description":"HVAC","notes":null,"customer":{"id":"cust-1","name":"Acme Corp","address":"1 Main St, Springfield, IL 62701"},"contact":null,"scheduled_date":"2024-03-05T09:00:00Z","estimated_duration":60,"technician":{"id":"tech-001","name":"Jane Doe"},"tasks":[],"created_at":"2024-01-20T14:30:00Z","updated_at":"2024-01-25T10:15:00Z"}','{"id":"wo-1","work_order_number":"WO-1","status":"open","priority":"high","work_order_type":"service","description":"HVAC","notes":null,"customer":{"id":"cust-1","name":"Acme Corp","address":"1 Main St, Springfield, IL 62701"},"contact":null,"scheduled_date":"2024-03-05T09:00:00Z","estimated_duration":60,"technician":{"id":"tech-001","name":"Jane Doe"},"tasks":[],"created_at":"2024-01-20T14:30:00Z","updated_at":"2024-01-25T10:15:00Z"}','{"id":"wo-1","work_order_number":"WO-1","status":"open","customer":{"id":"cust-1","name":"Acme Corp"},"scheduled_date":"2024-03-05T09:00:00Z","priority":"high","created_at":"2024-01-20T14:30:00Z"}','open','cust-1',NULL,'tech-001',NULL,'2024-03-05','2024-01-20T14:30:00Z',1705761000000,NULL,'WO-1','2024-01-25T10:15:00Z',1706177700000,'"v1"',0,1);
CREATE TABLE outbox (  seq INTEGER PRIMARY KEY AUTOINCREMENT,  op_id TEXT NOT NULL UNIQUE,  entity INTEGER NOT NULL,  record_id TEXT NOT NULL,  parent_id TEXT,  kind INTEGER NOT NULL,  fields TEXT NOT NULL,  base_values TEXT NOT NULL,  base_updated_at TEXT,  edited_at INTEGER NOT NULL,  state INTEGER NOT NULL,  attempts INTEGER NOT NULL DEFAULT 0,  next_attempt INTEGER NOT NULL DEFAULT 0,  last_error TEXT);
INSERT INTO outbox VALUES(1,'38848ead-5c9a-4405-8e1d-a831b35b85eb',0,'cust-1',NULL,1,'{"name":"Acme Corp (edited)"}','{"name":"Acme Corp"}','2024-01-20T14:15:00Z',1709251200000,0,0,0,NULL);
CREATE TABLE conflicts (  id INTEGER PRIMARY KEY AUTOINCREMENT,  op_id TEXT,  entity INTEGER NOT NULL,  record_id TEXT NOT NULL,  rule TEXT NOT NULL,  outcome TEXT NOT NULL,  state TEXT NOT NULL CHECK (state IN ('open', 'resolved')),  base TEXT NOT NULL,  local TEXT NOT NULL,  remote TEXT NOT NULL,  remote_updated_ms INTEGER,  created_ms INTEGER NOT NULL,  resolved_ms INTEGER,  resolution TEXT);
CREATE TABLE sync_state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE pulls (gen INTEGER PRIMARY KEY AUTOINCREMENT);
DELETE FROM sqlite_sequence;
INSERT INTO sqlite_sequence VALUES('outbox',1);
CREATE INDEX records_status ON records(entity, status, id);
CREATE INDEX records_customer ON records(entity, customer_id, id);
CREATE INDEX records_contact ON records(entity, contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX records_tech ON records(entity, technician_id, sched_day, id);
CREATE INDEX records_branch ON records(entity, branch_id, id);
CREATE INDEX records_sched ON records(entity, sched_day, id);
CREATE INDEX records_created ON records(entity, created_ms);
CREATE INDEX records_parent ON records(entity, parent_id);
CREATE INDEX records_seen ON records(entity, seen_gen);
CREATE INDEX outbox_record ON outbox(entity, record_id, seq);
CREATE INDEX outbox_state ON outbox(state, next_attempt);
CREATE INDEX conflicts_state ON conflicts(state);
COMMIT;
PRAGMA user_version = 1;
PRAGMA application_id = 1179867459;
