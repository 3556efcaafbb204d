package config

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"reflect"
	"testing"
)

// osloSpec describes the option table to the reference script.
func osloSpec(files []string) map[string]any {
	d := Defaults()
	var opts []map[string]any
	for _, o := range options {
		var def any
		switch p := o.field(d).(type) {
		case *string:
			def = *p
			if o.template != "" {
				def = o.template
			}
		case *int:
			def = *p
		case *float64:
			def = *p
		case *bool:
			def = *p
		case *[]string:
			def = append([]string{}, *p...)
		}
		var dep [][2]string
		for _, k := range o.deprecated {
			dep = append(dep, [2]string{k.group, k.name})
		}
		opts = append(opts, map[string]any{
			"group": o.group, "name": o.name, "kind": [...]string{"str", "int", "float", "bool", "list"}[o.kind],
			"default": def, "choices": o.choices, "min": o.min, "deprecated": dep,
		})
	}
	return map[string]any{"options": opts, "files": files}
}

// osloRead reads files with the real oslo.config (python3-oslo.config).
func osloRead(t *testing.T, files []string) map[string]any {
	t.Helper()
	spec, _ := json.Marshal(osloSpec(files))
	cmd := exec.Command("/usr/bin/python3", "testdata/oslo_reference.py")
	cmd.Stdin = bytes.NewReader(spec)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("oslo reference: %v: %s", err, stderr.String())
	}
	var res map[string]any
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("oslo reference output: %v", err)
	}
	return res
}

// goValue is o's value in c in the reference script's JSON form.
func goValue(o *option, c *Config) any {
	switch p := o.field(c).(type) {
	case *string:
		return *p
	case *int:
		return float64(*p)
	case *float64:
		return *p
	case *bool:
		return *p
	case *[]string:
		l := make([]any, len(*p))
		for i, s := range *p {
			l[i] = s
		}
		return l
	}
	return nil
}

// TestAgainstOsloConfig reads the same files with Load and with the real
// oslo.config and compares every option (differential test).
func TestAgainstOsloConfig(t *testing.T) {
	if err := exec.Command("/usr/bin/python3", "-c", "import oslo_config").Run(); err != nil {
		t.Skip("python3-oslo.config not installed (scripts/testenv.sh installs it)")
	}
	cases := []struct {
		name  string
		files []string
		// deviation: qdhcp refuses what oslo.config accepts (documented)
		deviation bool
	}{
		{"empty", []string{""}, false},
		{"typed values", []string{"[DEFAULT]\nresync_interval = +7\nnum_sync_threads = 1_0\ndebug = oN\nforce_metadata = 0\n" +
			"dnsmasq_dns_servers =  a , b,,c,\ndns_domain = \"x.test\"\ntransport_url = r://h # no comment\n" +
			"[agent]\nreport_interval = 2.5e1\n[AGENT]\ncheck_child_processes_action = exit\n"}, false},
		{"multi-line", []string{"[DEFAULT]\ndnsmasq_config_file = a\n   b\n\tc\n\nhost = h\n"}, false},
		{"colon and case", []string{"[DEFAULT]\nhost: h1\nHost = ignored\n[default]\ndns_domain = ignored\n[Oslo_Messaging_Rabbit]\nssl = yes\n"}, false},
		{"interpolation", []string{"[DEFAULT]\nstate_path = /s\ndnsmasq_base_log_dir = ${state_path}/l\nhost = $$a\\$b$ $1-$resync_interval-$debug-$AGENT.report_interval\n" +
			"external_pids = $dhcp_confs/p\n[AGENT]\navailability_zone = $root_helper-$state_path\n"}, false},
		{"files in order", []string{"[DEFAULT]\ndhcp_confs = $state_path/d\nresync_interval = 9\n[AGENT]\nroot_helper = a\n",
			"[DEFAULT]\nstate_path = /z\n[agent]\nroot_helper = b\n"}, false},
		{"deprecated names", []string{"[oslo_messaging_rabbit]\nrabbit_use_ssl = true\nkombu_ssl_keyfile = /k\nssl_key_file = /k2\n[DEFAULT]\nrabbit_retry_backoff = 5\namqp_auto_delete = true\n",
			"[oslo_messaging_rabbit]\nkombu_ssl_ca_certs = /ca\n"}, false},
		{"deprecated name in a later file wins", []string{"[oslo_messaging_rabbit]\nssl_ca_file = /a\n", "[oslo_messaging_rabbit]\nkombu_ssl_ca_certs = /b\n"}, false},
		{"bad int", []string{"[DEFAULT]\nresync_interval = 0x10\n"}, false},
		{"bad bool", []string{"[DEFAULT]\ndebug = y\n"}, false},
		{"bad choice", []string{"[OVS]\ndatapath_type = kernel\n"}, false},
		{"below min", []string{"[DEFAULT]\nbulk_reload_interval = -2\n"}, false},
		{"unknown reference", []string{"[DEFAULT]\nhost = $nope\n"}, false},
		{"quotes", []string{"[DEFAULT]\nhost = \"a\" b \"c\"\ndns_domain = \"\ninterface_driver = 'a\"\n\"dhcp_driver\" = ignored\ndnsmasq_config_file = \"x\"\n  y\n"}, false},
		{"sections spelled differently", []string{"[AGENT]\nroot_helper = x\n[Agent]\nroot_helper = y\n[agent]\nroot_helper = z\n[AGENT]\nroot_helper = w\n" +
			"[agent]\navailability_zone = a\n[AGENT]\navailability_zone = b\n[agent]\n"}, false},
		{"assignment before a section", []string{"host = h\n[DEFAULT]\n"}, false},
		{"section with trailing text", []string{"[DEFAULT] # c\nhost = h\n"}, false},
		{"unexpected continuation", []string{"[DEFAULT]\nhost = a\n\n  b\n"}, false},
		{"no delimiter", []string{"[DEFAULT]\nhost\n"}, false},
		{"empty int", []string{"[DEFAULT]\nresync_throttle =\n"}, true},
		{"triple quotes", []string{"[DEFAULT]\nhost = \"\"\"h\"\"\"\n"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			paths := writeFiles(t, tc.files...)
			ref := osloRead(t, paths)
			c, err := Load(paths...)
			osloErr := ref["load_error"] != nil
			for _, v := range ref {
				if m, ok := v.(map[string]any); ok && m["error"] != nil {
					osloErr = true
				}
			}
			switch {
			case tc.deviation:
				if err == nil || osloErr {
					t.Fatalf("expected qdhcp to refuse what oslo accepts: qdhcp err %v, oslo %v", err, ref)
				}
				return
			case err != nil || osloErr:
				if (err != nil) != osloErr {
					t.Fatalf("qdhcp err = %v, oslo.config = %v", err, ref)
				}
				return
			}
			for _, o := range options {
				want := ref[o.group+"."+o.name]
				if want == nil {
					want = "" // None: unset string
				}
				if got := goValue(o, c); !reflect.DeepEqual(got, want) {
					t.Errorf("[%s] %s = %#v, oslo.config says %#v", o.group, o.name, got, want)
				}
			}
		})
	}
}
