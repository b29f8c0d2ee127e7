package actions

import (
	"os/user"
	"strings"
)

// Operator is who runs an action, for the audit log: the local user, or the
// SSH identity a `slotwatch serve` session authenticated with.
type Operator struct {
	User string `json:"user"`
	// Fingerprint is the SSH public key's fingerprint (SHA256:…) of a served
	// session.
	Fingerprint string `json:"key_fingerprint,omitempty"`
	// SSHClient is the address the operator came from over SSH.
	SSHClient string `json:"ssh_client,omitempty"`
}

// Name is how messages name the operator.
func (o Operator) Name() string {
	if o.User == "" {
		return "someone"
	}
	return o.User
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
