package drill

import _ "embed"

// The TalentFlow schema and seed are embedded so that a shipped binary can
// run the drill without the source tree. The files are copies of
// testdata/talentflow/{schema,seed}.sql (the copy the collectors' tests
// load); TestEmbeddedSQLMatchesTestdata fails when the two drift apart, and
// `go generate ./drill` refreshes the copies.
//
//go:generate cp ../testdata/talentflow/schema.sql ../testdata/talentflow/seed.sql talentflow/

var (
	//go:embed talentflow/schema.sql
	Schema string
	//go:embed talentflow/seed.sql
	Seed string
)
