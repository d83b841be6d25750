BEGIN TRANSACTION;
CREATE TABLE checkpoints (
    recording_id TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (recording_id, key)
);
INSERT INTO "checkpoints" VALUES('uid-finished','multirequest.state','{"mediapackage": "<mediapackage/>", "done": []}');
CREATE TABLE ingest_attempts (
    recording_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    method TEXT NOT NULL,
    started REAL NOT NULL,
    finished REAL,
    outcome TEXT,
    detail TEXT
);
INSERT INTO "ingest_attempts" VALUES('uid-finished',1,'multirequest',1.79611340069733858111e+09,1.79611340069753789901e+09,'retry','core answered 500');
CREATE TABLE recordings (
    id TEXT PRIMARY KEY,
    agent TEXT NOT NULL,
    event_json TEXT NOT NULL,
    directory TEXT NOT NULL,
    state TEXT NOT NULL,
    inputs_json TEXT NOT NULL DEFAULT '[]',
    package_json TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
INSERT INTO "recordings" VALUES('uid-finished','room-1','{"uid": "uid-finished", "start": "2026-11-30T09:00:00+00:00", "end": "2026-11-30T10:30:00+00:00", "title": "Lecture A", "location": "room-1", "series_id": null, "description": null, "last_modified": null, "properties": {"capture.device.names": "presenter", "org.opencastproject.workflow.config.trimHold": "true"}, "attachments": {"episode.xml": "<dublincore>\u00e9</dublincore>"}}','/var/lib/ocframe/recordings/room-1/a','uploading','["presenter"]',NULL,NULL,1,1764500000.0,1.79611340069546103481e+09,1796113400.69719);
INSERT INTO "recordings" VALUES('uid-capturing','room-2','{"uid": "uid-capturing", "start": "2026-11-30T09:00:00+00:00", "end": "2026-11-30T10:30:00+00:00", "title": "Lecture B", "location": "room-1", "series_id": null, "description": null, "last_modified": null, "properties": {"capture.device.names": "presenter", "org.opencastproject.workflow.config.trimHold": "true"}, "attachments": {"episode.xml": "<dublincore>\u00e9</dublincore>"}}','/var/lib/ocframe/recordings/room-2/b','capturing','["presenter", "screen"]',NULL,NULL,0,NULL,1.79611340069794940942e+09,1.79611340069794940942e+09);
INSERT INTO "recordings" VALUES('uid-done','room-1','{"uid": "uid-done", "start": "2026-11-30T09:00:00+00:00", "end": "2026-11-30T10:30:00+00:00", "title": "Lecture C", "location": "room-1", "series_id": null, "description": null, "last_modified": null, "properties": {"capture.device.names": "presenter", "org.opencastproject.workflow.config.trimHold": "true"}, "attachments": {"episode.xml": "<dublincore>\u00e9</dublincore>"}}','/var/lib/ocframe/recordings/room-1/c','upload_finished','["presenter"]','{"tracks": [{"path": "/x/p.mkv", "flavor": "presenter/source", "mimetype": "video/x-matroska", "tags": ["archive"], "input": "presenter", "segment": 0, "md5": null}], "catalogs": [], "attachments": []}',NULL,0,NULL,1.7961134006985337734e+09,1.79611340069914603235e+09);
CREATE TABLE segments (
    recording_id TEXT NOT NULL,
    input TEXT NOT NULL,
    segment INTEGER NOT NULL,
    directory TEXT NOT NULL,
    started REAL NOT NULL,
    ended REAL,
    error TEXT,
    tracks_json TEXT,
    PRIMARY KEY (recording_id, input, segment)
);
INSERT INTO "segments" VALUES('uid-finished','presenter',0,'/var/lib/ocframe/recordings/room-1/a/presenter/segment-000',1.79611340069624710082e+09,1.79611340069653224946e+09,NULL,'[{"path": "/var/lib/ocframe/recordings/room-1/a/presenter/segment-000/presenter.mkv", "flavor": "presenter/source", "mimetype": "video/x-matroska", "tags": [], "input": "presenter", "segment": 0, "md5": null}]');
INSERT INTO "segments" VALUES('uid-capturing','screen',0,'/var/lib/ocframe/recordings/room-2/b/screen/segment-000',1.79611340069835948938e+09,NULL,NULL,NULL);
CREATE TABLE state_history (
    recording_id TEXT NOT NULL,
    at REAL NOT NULL,
    state TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
INSERT INTO "state_history" VALUES('uid-finished',1.79611340069546103481e+09,'capturing','scheduled start');
INSERT INTO "state_history" VALUES('uid-finished',1.79611340069676899905e+09,'capture_finished','');
INSERT INTO "state_history" VALUES('uid-finished',1.79611340069698786738e+09,'uploading','upload queued');
INSERT INTO "state_history" VALUES('uid-capturing',1.79611340069794940942e+09,'capturing','scheduled start');
INSERT INTO "state_history" VALUES('uid-done',1.7961134006985337734e+09,'capturing','scheduled start');
INSERT INTO "state_history" VALUES('uid-done',1.79611340069914603235e+09,'upload_finished','workflow 42');
CREATE INDEX state_history_rec ON state_history(recording_id);
COMMIT;
