package collectors

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// namesQuery maps database and role oids to names. pg_roles, not pg_authid
// (superuser-only), so that any monitoring role can read it.
const namesQuery = `SELECT true, oid, datname::text FROM pg_database UNION ALL SELECT false, oid, rolname::text FROM pg_roles`

// pgNames caches database and role names by oid. The activity query reads
// pg_stat_get_activity directly instead of the pg_stat_activity view, whose
// joins with pg_database and pg_authid are a fifth of the query's time at
// 1,000 backends (the planner expects one row and loops); names change
// rarely and an unknown oid triggers a refresh.
type pgNames struct {
	databases map[uint32]string
	roles     map[uint32]string
	// missing holds oids a refresh did not find (a role dropped while its
	// sessions live on), so they do not cause a refresh on every tick.
	missing map[uint32]bool
	readAt  time.Time
}

func (n *pgNames) read(ctx context.Context, conn *pgx.Conn, now time.Time) error {
	rows, err := conn.Query(ctx, namesQuery)
	if err != nil {
		return err
	}
	defer rows.Close()
	databases, roles := map[uint32]string{}, map[uint32]string{}
	var (
		isDB bool
		oid  uint32
		name string
	)
	for rows.Next() {
		if err := rows.Scan(&isDB, &oid, &name); err != nil {
			return err
		}
		if isDB {
			databases[oid] = name
		} else {
			roles[oid] = name
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	n.databases, n.roles, n.missing, n.readAt = databases, roles, map[uint32]bool{}, now
	return nil
}

// markMissing remembers the oids a fresh read did not name.
func (n *pgNames) markMissing(datids, roleids []uint32) {
	for _, oid := range datids {
		if _, ok := n.databases[oid]; !ok {
			n.missing[oid] = true
		}
	}
	for _, oid := range roleids {
		if _, ok := n.roles[oid]; !ok {
			n.missing[oid] = true
		}
	}
}

// knows reports whether every oid has a name or is known to have none; 0
// (NULL: not reported yet) has none to find.
func (n *pgNames) knows(datids, roleids []uint32) bool {
	for _, oid := range datids {
		if _, ok := n.databases[oid]; !ok && oid != 0 && !n.missing[oid] {
			return false
		}
	}
	for _, oid := range roleids {
		if _, ok := n.roles[oid]; !ok && oid != 0 && !n.missing[oid] {
			return false
		}
	}
	return true
}

// databaseOID returns the oid of the database named name, 0 when unknown
// (no client backend has datid 0, so the filter then matches nothing).
func (n *pgNames) databaseOID(name string) uint32 {
	for oid, db := range n.databases {
		if db == name {
			return oid
		}
	}
	return 0
}
