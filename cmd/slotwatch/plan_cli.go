package main

// The one run of every mitigation command (terminate, redis-kill, guard
// set|revert): preview, record a preview without --yes, execute with it,
// print text or JSON, and map the outcome to the exit status. Each kind
// only says how its plan and results are printed.

import (
	"context"
	"io"

	"github.com/slotwatch/slotwatch/actions"
)

// outputFlags are how a mitigation command prints.
type outputFlags struct {
	yes, asJSON, showSQL bool
}

// planOutput is how the CLI prints one kind of plan.
type planOutput struct {
	// preview prints a plan that is not executed (a preview, or nothing
	// to do) and returns the exit status.
	preview func(env *environment, o outputFlags) int
	// before runs just before the plan executes; its status is the least
	// the command exits with.
	before func(env *environment) int
	// executed prints the executed plan and its results and returns the
	// exit status they mean.
	executed func(env *environment, rep actions.Report, o outputFlags) int
}

// runPlan previews req and, with --yes and something to do, executes it
// on the server it was previewed on.
func runPlan(ctx context.Context, env *environment, svc *actions.Fleet, req actions.Request, o outputFlags) int {
	plan, err := svc.Preview(ctx, req)
	if err != nil {
		return exitFor(env, err)
	}
	out := outputOf(plan)
	if !o.yes || plan.Size() == 0 {
		if !o.yes {
			if err := svc.Previewed(ctx, plan); err != nil {
				errorSentence(env, err)
			}
		}
		return out.preview(env, o)
	}
	least := exitOK
	if out.before != nil {
		least = out.before(env)
	}
	rep, err := svc.Execute(ctx, plan)
	code := out.executed(env, rep, o)
	if err != nil {
		return exitFor(env, err)
	}
	return max(code, least)
}

// outputOf is the printing of plan's kind.
func outputOf(plan actions.Plan) planOutput {
	switch p := plan.(type) {
	case actions.SessionPlan:
		return planOutput{
			preview: func(env *environment, o outputFlags) int { return previewSessions(env, p, o.yes, o.asJSON, o.showSQL) },
			before: func(env *environment) int {
				if sayMissingPIDs(env, p) {
					return exitError
				}
				return exitOK
			},
			executed: targetsExecuted("pid", func(w io.Writer, showSQL bool) { printSessionPlan(w, p, showSQL) }),
		}
	case actions.RedisPlan:
		return planOutput{
			preview:  func(env *environment, o outputFlags) int { return previewRedis(env, p, o.yes, o.asJSON, o.showSQL) },
			executed: targetsExecuted("client", func(w io.Writer, showSQL bool) { printRedisPlan(w, p, showSQL) }),
		}
	case actions.GuardPlan:
		return planOutput{
			preview:  func(env *environment, o outputFlags) int { return previewGuard(env, p, o) },
			executed: guardExecuted,
		}
	}
	// Every kind of plan has its case above; a kind added to actions
	// without one still prints whole, as JSON.
	return planOutput{
		preview: func(env *environment, o outputFlags) int {
			_ = writeJSON(env.stdout, actionOutput[actions.Plan]{Plan: plan, Results: []actions.TargetResult{}})
			return exitOK
		},
		executed: targetsExecuted("target", func(w io.Writer, _ bool) { _ = writeJSON(w, plan) }),
	}
}

// targetsExecuted prints a targeted action that ran (sessions, Redis
// clients): the plan and one line per target, or the JSON with results
// and counts. Any failed target is exit 1; skipped ones are the safety
// policy working.
func targetsExecuted(noun string, printPlan func(w io.Writer, showSQL bool)) func(*environment, actions.Report, outputFlags) int {
	return func(env *environment, rep actions.Report, o outputFlags) int {
		results := rep.Outcomes()
		if o.asJSON {
			_ = writeJSON(env.stdout, actionOutput[actions.Plan]{Executed: true, Plan: rep.Executed(), Results: results, Counts: countsJSON(results)})
		} else {
			printPlan(env.text(), o.showSQL)
			printResults(env.text(), noun, results)
		}
		return resultExit(results)
	}
}
