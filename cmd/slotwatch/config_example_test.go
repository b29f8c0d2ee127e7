package main

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const exampleConfig = "../../deploy/config.yaml.example"

// TestExampleConfigLoads: the example the .deb installs as
// /etc/slotwatch/config.yaml.example passes the real parser (unknown keys,
// ranges, server lists, alert names) and resolves to what it says.
func TestExampleConfigLoads(t *testing.T) {
	targets := targetFlags{configPath: exampleConfig}
	s, err := targets.resolve(envFrom(map[string]string{"HOME": t.TempDir()}))
	if err != nil {
		t.Fatalf("the example config does not load: %v", err)
	}
	if got := s.servers.names(kindPG); !slices.Equal(got, []string{"primary", "replica-1"}) {
		t.Errorf("pg servers = %v", got)
	}
	if got := s.servers.names(kindRedis); !slices.Equal(got, []string{"cache", "sessions", "queue"}) {
		t.Errorf("redis servers = %v", got)
	}
	if !s.servers.redis[2].Cluster || s.PgBouncer == "" || s.DB != "talentflow" || s.AuditLog != "/var/log/slotwatch/audit.jsonl" ||
		len(s.Serve.Operators) != 2 || s.Actions.BatchSize != 50 || s.Jobs.Query == "" {
		t.Errorf("the example resolved to %+v", s.fileConfig)
	}
}

// TestExampleConfigHasEveryKey: the example is complete, so a new config
// key cannot be added without showing it there.
func TestExampleConfigHasEveryKey(t *testing.T) {
	data, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	collectKeys(doc.Content[0], "", have)
	for _, key := range configKeys(reflect.TypeOf(fileConfig{}), "") {
		if !have[key] {
			t.Errorf("%s: the key %s is missing", filepath.Base(exampleConfig), key)
		}
	}
}

// collectKeys records every key path of a YAML tree: a.b, list[].key, and
// alerts.*.key under the alerts map.
func collectKeys(n *yaml.Node, prefix string, have map[string]bool) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			if prefix == "alerts" {
				key = "*"
			}
			path := strings.TrimPrefix(prefix+"."+key, ".")
			have[path] = true
			collectKeys(n.Content[i+1], path, have)
		}
	case yaml.SequenceNode:
		for _, item := range n.Content {
			collectKeys(item, prefix+"[]", have)
		}
	}
}

// configKeys lists the key paths fileConfig decodes, the server lists'
// item keys included.
func configKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		path := strings.TrimPrefix(prefix+"."+name, ".")
		keys = append(keys, path)
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft == reflect.TypeOf(pgList{}):
			keys = append(keys, itemKeys(path, "dsn")...)
		case ft == reflect.TypeOf(redisList{}):
			keys = append(keys, itemKeys(path, "url")...)
		case ft.Kind() == reflect.Map && ft.Elem().Kind() == reflect.Struct:
			keys = append(keys, configKeys(ft.Elem(), path+".*")...)
		case ft.Kind() == reflect.Struct && ft.Name() == "": // a section: probe, jobs, …
			keys = append(keys, configKeys(ft, path)...)
		}
	}
	return keys
}

func itemKeys(path, targetKey string) []string {
	var keys []string
	for _, k := range serverItemKeys[targetKey] {
		keys = append(keys, path+"[]."+k)
	}
	return keys
}
