package contenttest

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/ipmifleet/ipmi_fleet_exporter/collector"
	"github.com/ipmifleet/ipmi_fleet_exporter/config"
)

// The local-mode systemd unit: the in-band module flag, the one device it
// may open, no capabilities, the usual hardening otherwise.
func TestSystemdUnitLocal(t *testing.T) {
	path := repoPath("deploy", "systemd", "ipmi_fleet_exporter-local.service")
	u := parseUnit(t, path)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	svc := u["Service"]
	if svc == nil || u["Unit"] == nil || u["Install"] == nil {
		t.Fatalf("want [Unit], [Service] and [Install] sections, got %v", u)
	}
	start := strings.Join(svc["ExecStart"], " ")
	for _, want := range []string{"/ipmi_fleet_exporter ", "--config.file=/etc/ipmi_fleet_exporter/local.yml", "--local.module=local"} {
		if !strings.Contains(start, want) {
			t.Errorf("ExecStart %q lacks %q", start, want)
		}
	}
	for key, want := range map[string]string{
		"DynamicUser":            "yes",
		"SupplementaryGroups":    "ipmi",
		"NoNewPrivileges":        "yes",
		"CapabilityBoundingSet":  "",
		"AmbientCapabilities":    "",
		"PrivateDevices":         "no", // yes would hide /dev/ipmi0
		"DevicePolicy":           "closed",
		"ProtectSystem":          "strict",
		"ProtectHome":            "yes",
		"ProtectKernelModules":   "yes",
		"RestrictNamespaces":     "yes",
		"MemoryDenyWriteExecute": "yes",
	} {
		if !slices.Contains(svc[key], want) {
			t.Errorf("want %s=%s, got %q", key, want, svc[key])
		}
	}
	if !slices.Contains(svc["DeviceAllow"], "/dev/ipmi0 rw") {
		t.Errorf("DeviceAllow %q: want /dev/ipmi0 rw (the ioctls write and read)", svc["DeviceAllow"])
	}
	for _, d := range svc["DeviceAllow"] {
		if !strings.Contains(d, "ipmi") {
			t.Errorf("DeviceAllow=%s: only the IPMI device", d)
		}
	}
	if len(svc["LoadCredential"]) > 0 {
		t.Error("local mode needs no credentials")
	}
	// The configuration the comment shows loads, without a warning, with
	// the in-band module the flag names.
	_, shown, ok := strings.Cut(string(data), "\n# /etc/ipmi_fleet_exporter/local.yml:\n")
	if !ok {
		t.Fatal("the unit's comment does not show /etc/ipmi_fleet_exporter/local.yml")
	}
	var cfgText strings.Builder
	for _, line := range strings.Split(shown, "\n") {
		rest, ok := strings.CutPrefix(line, "#    ")
		if !ok {
			break
		}
		cfgText.WriteString(rest + "\n")
	}
	loadInBand(t, "the unit's local.yml", cfgText.String(), "local")
	// The comment shows what the tutorial does and the module the flag names.
	for _, want := range []string{"modprobe ipmi_msghandler", "modprobe ipmi_devintf", "modprobe ipmi_si",
		`KERNEL=="ipmi*", GROUP="ipmi", MODE="0660"`, "driver: OPENIPMI", "      local:"} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("the unit's comment lacks %q", want)
		}
	}
}

// The local-mode DaemonSet: the device from a device plugin, no
// privilege, the in-band module on /metrics, the node's name as a label.
func TestKubernetesDaemonSetLocal(t *testing.T) {
	path := repoPath("deploy", "kubernetes", "local", "daemonset.yaml")
	// Its own kustomization (kubectl apply -k deploy/kubernetes/local),
	// apart from the fleet Deployment's.
	var kust struct {
		Namespace string   `yaml:"namespace"`
		Resources []string `yaml:"resources"`
	}
	readYAML(t, repoPath("deploy", "kubernetes", "local", "kustomization.yaml"), &kust)
	if !slices.Equal(kust.Resources, []string{"daemonset.yaml"}) || kust.Namespace != "monitoring" {
		t.Errorf("deploy/kubernetes/local/kustomization.yaml: resources %v, namespace %q; want [daemonset.yaml] in monitoring", kust.Resources, kust.Namespace)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	objs := map[string]map[string]any{}
	dec := yaml.NewDecoder(f)
	for {
		var o map[string]any
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		kind, _ := o["kind"].(string)
		if objs[kind] != nil {
			t.Fatalf("two %s objects", kind)
		}
		objs[kind] = o
	}
	for _, kind := range []string{"ConfigMap", "DaemonSet", "PodMonitor"} {
		if objs[kind] == nil {
			t.Fatalf("no %s in %s", kind, path)
		}
	}

	// The configuration: one in-band module, the one --local.module names.
	cfgText, _ := get(objs["ConfigMap"], "data", "ipmi_fleet_exporter.yml").(string)
	var cfg struct {
		Modules map[string]map[string]any `yaml:"modules"`
	}
	if err := yaml.Unmarshal([]byte(cfgText), &cfg); err != nil {
		t.Fatalf("ConfigMap configuration: %v", err)
	}
	if d := cfg.Modules["local"]["driver"]; d != "OPENIPMI" {
		t.Errorf("module local: driver %v, want OPENIPMI", d)
	}
	loadInBand(t, "the DaemonSet's ConfigMap", cfgText, "local")
	for name, m := range cfg.Modules {
		for _, secret := range []string{"user", "pass", "pass_file"} {
			if _, ok := m[secret]; ok {
				t.Errorf("module %s: %s in local mode (no credentials needed)", name, secret)
			}
		}
	}

	pod := get(objs["DaemonSet"], "spec", "template", "spec").(map[string]any)
	if pod["hostNetwork"] == true || pod["hostPID"] == true {
		t.Error("the pod shares the host's network or PIDs")
	}
	if pod["automountServiceAccountToken"] != false {
		t.Error("automountServiceAccountToken must be false (the exporter never talks to the API)")
	}
	containers := pod["containers"].([]any)
	c := containers[0].(map[string]any)
	args := strings.Join(toStrings(c["args"]), " ")
	if !strings.Contains(args, "--local.module=local") {
		t.Errorf("args %q: want --local.module=local", args)
	}
	if strings.Contains(args, "--config.file") {
		t.Error("args repeat --config.file (the image's ENTRYPOINT gives it)")
	}
	sc := c["securityContext"].(map[string]any)
	if sc["privileged"] != false || sc["allowPrivilegeEscalation"] != false || sc["readOnlyRootFilesystem"] != true {
		t.Errorf("securityContext %v: want privileged false, allowPrivilegeEscalation false, readOnlyRootFilesystem true", sc)
	}
	if drop := toStrings(get(sc, "capabilities", "drop")); !slices.Contains(drop, "ALL") || get(sc, "capabilities", "add") != nil {
		t.Errorf("capabilities %v: want drop [ALL] and nothing added", sc["capabilities"])
	}
	// The device comes from the device plugin's resource, not from a
	// privileged container or a writable host mount.
	if n := get(c, "resources", "limits", "squat.ai/ipmi"); n != 1 {
		t.Errorf("resources.limits[squat.ai/ipmi] = %v, want 1 (/dev/ipmi0 from the device plugin)", n)
	}
	for _, v := range pod["volumes"].([]any) {
		if hp := get(v.(map[string]any), "hostPath"); hp != nil {
			t.Errorf("hostPath volume %v: the device comes from the device plugin", hp)
		}
	}
	// The node's name: in the pod's environment and as the series' label.
	hasNode := false
	for _, e := range c["env"].([]any) {
		hasNode = hasNode || get(e.(map[string]any), "valueFrom", "fieldRef", "fieldPath") == "spec.nodeName"
	}
	if !hasNode {
		t.Error("no env from spec.nodeName")
	}
	endpoints := get(objs["PodMonitor"], "spec", "podMetricsEndpoints").([]any)
	ep := endpoints[0].(map[string]any)
	if ep["path"] != "/metrics" {
		t.Errorf("PodMonitor path %v: local mode is on /metrics", ep["path"])
	}
	labelled := false
	for _, r := range ep["relabelings"].([]any) {
		r := r.(map[string]any)
		if slices.Contains(toStrings(r["sourceLabels"]), "__meta_kubernetes_pod_node_name") && r["targetLabel"] == "node" {
			labelled = true
		}
	}
	if !labelled {
		t.Error("PodMonitor does not label series with the node name (node)")
	}
	if sel := get(objs["PodMonitor"], "spec", "selector", "matchLabels", "app.kubernetes.io/name"); sel != get(objs["DaemonSet"], "spec", "template", "metadata", "labels", "app.kubernetes.io/name") {
		t.Errorf("PodMonitor selects %v, not the DaemonSet's pods", sel)
	}
}

// loadInBand loads a shipped configuration as the exporter does and
// wants module, the one --local.module names, to be in-band; warnings
// count as failures (a deployment file should not draw any).
func loadInBand(t *testing.T, what, text, module string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ipmi_fleet_exporter.yml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, warnings, err := config.Load(path, collector.Catalog())
	if err != nil {
		t.Fatalf("%s does not load: %v\n%s", what, err, text)
	}
	for _, w := range warnings {
		t.Errorf("%s: warning: %s", what, w)
	}
	if _, err := cfg.InBandModule(module); err != nil {
		t.Errorf("%s: %v", what, err)
	}
}

// get walks nested maps; nil when a key is missing.
func get(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func toStrings(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}
