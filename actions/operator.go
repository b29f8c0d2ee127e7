package actions

import (
	"os/user"
	"strings"
)

// Operator is who runs an action, for the audit log.
type Operator struct {
	User      string `json:"user"`
	SSHClient string `json:"ssh_client,omitempty"` // address the operator came from over SSH
}

// CurrentOperator names the operator from the environment: SUDO_USER (the
// human behind sudo), USER, LOGNAME, else the OS account; the SSH client
// address from SSH_CLIENT or SSH_CONNECTION.
func CurrentOperator(getenv func(string) string) Operator {
	op := Operator{User: firstSet(getenv, "SUDO_USER", "USER", "LOGNAME")}
	if op.User == "" {
		if u, err := user.Current(); err == nil {
			op.User = u.Username
		}
	}
	if ssh := firstSet(getenv, "SSH_CLIENT", "SSH_CONNECTION"); ssh != "" {
		// Both start with the client address, then its port.
		op.SSHClient = strings.Fields(ssh)[0]
	}
	return op
}

func firstSet(getenv func(string) string, names ...string) string {
	for _, n := range names {
		if v := strings.TrimSpace(getenv(n)); v != "" {
			return v
		}
	}
	return ""
}
