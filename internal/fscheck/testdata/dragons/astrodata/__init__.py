"""Stand-in for DRAGONS' astrodata, for internal/fscheck only.

FitsStorage's core/orm/diskfile.py imports astrodata to open a file at its own
ingest. The check never ingests with FitsStorage (agentd does), so nothing here
is ever called; the real package cannot be had on the test machines (DRAGONS
needs astropy >= 7, Debian 12 packages 5.2). Any use fails loudly.
"""


def __getattr__(name):
    raise RuntimeError(f"astrodata.{name} used: the fscheck stand-in for DRAGONS' "
                       "astrodata cannot open files; FitsStorage's ingest is not part "
                       "of this check")
