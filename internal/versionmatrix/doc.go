// Package versionmatrix holds the test that runs slotwatch's collector,
// probe, terminate and guards against every supported PostgreSQL major
// version (12 to 18), each a real server started from the binaries that
// scripts/pg-versions brings from the npm registry. It has no code of its
// own: it is the one place that knows which behaviour depends on the
// server version.
package versionmatrix
