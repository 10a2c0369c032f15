// Package fscheck is the independent check that FitsStorage's own software can use the
// database agentd builds. Its test makes a database with the real `agentctl db init`, fills
// it with the real `agentd`, and reads it back through FitsStorage's own SQLAlchemy models,
// search (list_headers with a Selection) and queue classes (IngestQueue, CalCacheQueue),
// run by Debian's Python from an unmodified copy of FitsStorage's modules in testdata/.
// FitsStorage's IngestQueue.add and pop() write rows agentd must then service.
//
// The package has no code of its own: the check is the test.
package fscheck
