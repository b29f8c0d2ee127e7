package drill

import _ "embed"

// The TalentFlow schema and seed are embedded so that a shipped binary can
// run the drill without the source tree. go:embed cannot reach outside the
// package or follow links, so the files live here and
// testdata/talentflow/{schema,seed}.sql are symbolic links to them: one copy.

var (
	//go:embed talentflow/schema.sql
	Schema string
	//go:embed talentflow/seed.sql
	Seed string
)
