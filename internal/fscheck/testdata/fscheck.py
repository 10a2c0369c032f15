"""FitsStorage's own ORM and query code, pointed at a database agentd built.

Run by internal/fscheck's Go test with PYTHONPATH naming the vendored FitsStorage
(testdata/fitsstorage) and the DRAGONS stand-ins (testdata/dragons), and
FITS_STORAGE_DB_URL naming the database. Prints one JSON document of what
FitsStorage's code read; the Go test holds the expectations.

    fscheck.py add FILENAME PATH   queue a file with FitsStorage's IngestQueue.add
    fscheck.py pop                 take an ingest item as FitsStorage's own worker does
                                   (IngestQueue.pop(): in progress, no lease) and leave it
    fscheck.py read SELECTIONS     read everything back; SELECTIONS is a JSON list of
                                   selection dictionaries for list_headers
"""
import datetime
import decimal
import json
import sys

from fits_storage.db import sessionfactory
from fits_storage.logger_dummy import DummyLogger
from fits_storage.db.list_headers import list_headers
from fits_storage.db.selection import Selection
from fits_storage.core.orm.file import File
from fits_storage.core.orm.diskfile import DiskFile
from fits_storage.core.orm.header import Header
from fits_storage.cal.orm.gmos import Gmos
from fits_storage.cal.orm.niri import Niri
from fits_storage.cal.orm.gnirs import Gnirs
from fits_storage.cal.orm.f2 import F2
from fits_storage.queues.queue.ingestqueue import IngestQueue
from fits_storage.queues.queue.calcachequeue import CalCacheQueue
from fits_storage.queues.orm.ingestqueueentry import IngestQueueEntry
from fits_storage.queues.orm.calcachequeueentry import CalCacheQueueEntry
from fits_storage.cal.orm.calcache import CalCache
from fits_storage.cal.associate_calibrations import associate_cals_from_cache


def plain(value):
    """A column value as JSON can carry it."""
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


def columns(obj):
    """Every mapped column of an ORM object, read through the ORM."""
    return {c.key: plain(getattr(obj, c.key)) for c in obj.__mapper__.column_attrs}


def add(session, filename, path):
    entry = IngestQueue(session, logger=DummyLogger()).add(filename, path)
    if entry is None:
        raise SystemExit(f"IngestQueue.add({filename!r}, {path!r}) refused the row")
    return {"id": entry.id, "failed": entry.failed, "inprogress": entry.inprogress}


def pop(session):
    entry = IngestQueue(session, logger=DummyLogger()).pop()
    if entry is None:
        raise SystemExit("IngestQueue.pop() found nothing to pop")
    return {"filename": entry.filename, "inprogress": entry.inprogress}


def queue_facts(session, queue, orm):
    """What the queue status pages and queue_monitor read."""
    return {
        "length": queue.length(),
        "length_with_inprogress": queue.length(include_inprogress=True),
        "count": session.query(orm).count(),
        "in_progress": session.query(orm).filter(orm.inprogress == True).count(),
        "failed": sum(1 for e in session.query(orm).all() if e.failed),
    }


def read(session, selections):
    headers = []
    for header, diskfile, file in (session.query(Header, DiskFile, File)
                                   .join(DiskFile, Header.diskfile_id == DiskFile.id)
                                   .join(File, DiskFile.file_id == File.id)
                                   .filter(DiskFile.canonical == True)):
        row = columns(header)
        row["filename"] = diskfile.filename
        row["file_name"] = file.name
        row["path"] = diskfile.path
        headers.append(row)

    searches = []
    for sel in selections:
        found = list_headers(Selection(sel), ["filename"], session=session)
        searches.append({"selection": sel, "open": Selection(sel).openquery,
                         "filenames": sorted(h.diskfile.filename for h in found)})

    instruments = {}
    for name, orm in (("gmos", Gmos), ("niri", Niri), ("gnirs", Gnirs), ("f2", F2)):
        instruments[name] = [dict(columns(row), filename=row.header.diskfile.filename)
                             for row in session.query(orm)]

    # The calibration cache through FitsStorage's ORM (caltype read through its enum) and
    # its own lookup from the cache (what its calibration pages and downloads use).
    cached = {}
    for row in session.query(CalCache):
        obs = session.get(Header, row.obs_hid).diskfile.filename
        cal = session.get(Header, row.cal_hid).diskfile.filename
        cached.setdefault(obs, []).append({"caltype": row.caltype, "rank": row.rank, "cal": cal})
    lookup = {}
    for header in session.query(Header):
        found = associate_cals_from_cache(session, [header])
        if found:
            lookup[header.diskfile.filename] = sorted(h.diskfile.filename for h in found)

    pending = {}
    for entry in session.query(IngestQueueEntry):
        pending[entry.filename] = {"failed": entry.failed, "inprogress": entry.inprogress,
                                   "error": entry.error}

    return {
        "headers": headers,
        "searches": searches,
        "instruments": instruments,
        "ingestqueue": queue_facts(session, IngestQueue(session, logger=DummyLogger()), IngestQueueEntry),
        "calcachequeue": queue_facts(session, CalCacheQueue(session, logger=DummyLogger()), CalCacheQueueEntry),
        "ingest_entries": pending,
        "calcache": cached,
        "calibrations": lookup,
    }


def main(argv):
    session = sessionfactory()
    try:
        if argv[1:2] == ["add"] and len(argv) == 4:
            out = add(session, argv[2], argv[3])
        elif argv[1:2] == ["pop"] and len(argv) == 2:
            out = pop(session)
        elif argv[1:2] == ["read"] and len(argv) == 3:
            out = read(session, json.loads(argv[2]))
        else:
            raise SystemExit(__doc__)
        session.commit()
    finally:
        session.close()
    json.dump(out, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main(sys.argv)
