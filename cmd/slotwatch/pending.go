package main

// Scaffolding: each subcommand below is replaced by its own file
// (snapshot.go, watch.go, ...) as it is built. Delete an entry here when
// its real implementation lands.

import (
	"context"
	"fmt"
)

func notYet(name string) func(context.Context, *environment, []string) int {
	return func(_ context.Context, env *environment, _ []string) int {
		fmt.Fprintf(env.stderr, "slotwatch: the %s command is not built yet.\n", name)
		return exitError
	}
}

var (
)
