package recording

import "github.com/slotwatch/slotwatch/collectors"

// interner shares equal strings between the snapshots of one recording:
// the same query texts, names and addresses repeat in every snapshot, and a
// replay holds them all.
type interner map[string]string

func (in interner) str(s *string) {
	if *s == "" {
		return
	}
	if v, ok := in[*s]; ok {
		*s = v
		return
	}
	in[*s] = *s
}

func (in interner) snapshot(s *collectors.Snapshot) {
	if pg := s.Postgres; pg != nil {
		in.str(&pg.Target)
		in.str(&pg.ServerVersion)
		for i := range pg.Sessions {
			x := &pg.Sessions[i]
			for _, f := range []*string{&x.Datname, &x.Usename, &x.ApplicationName, &x.ClientAddr, &x.State, &x.WaitEventType, &x.WaitEvent, &x.Query} {
				in.str(f)
			}
		}
		for i := range pg.Groups {
			g := &pg.Groups[i]
			for _, f := range []*string{&g.ApplicationName, &g.Usename, &g.ClientAddr, &g.Datname} {
				in.str(f)
			}
		}
	}
	if r := s.Redis; r != nil {
		in.str(&r.Target)
		in.str(&r.ServerVersion)
		for i := range r.Clients {
			c := &r.Clients[i]
			for _, f := range []*string{&c.Addr, &c.Name, &c.LibName, &c.Cmd, &c.Flags} {
				in.str(f)
			}
		}
		for i := range r.Groups {
			g := &r.Groups[i]
			for _, f := range []*string{&g.Host, &g.Name, &g.LibName} {
				in.str(f)
			}
		}
	}
	if pr := s.Probe; pr != nil {
		in.str(&pr.Error)
	}
}
