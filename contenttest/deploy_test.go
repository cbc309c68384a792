package contenttest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ipmifleet/ipmi_fleet_exporter/collector"
	"github.com/ipmifleet/ipmi_fleet_exporter/config"
)

// configPath is where every deployment puts the exporter's configuration.
const configPath = "/etc/ipmi_fleet_exporter/ipmi_fleet_exporter.yml"

// unitFile is a parsed systemd unit: section -> key -> values in order.
type unitFile map[string]map[string][]string

func parseUnit(t *testing.T, path string) unitFile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unitFile{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("%s:%d: not a key=value line in a section: %q", path, n, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestSystemdUnit(t *testing.T) {
	path := repoPath("deploy", "systemd", "ipmi_fleet_exporter.service")
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
	if !strings.Contains(start, "/ipmi_fleet_exporter --config.file="+configPath) {
		t.Errorf("ExecStart %q: want the binary with --config.file=%s", start, configPath)
	}
	if got := svc["ExecReload"]; len(got) != 1 || got[0] != "/bin/kill -HUP $MAINPID" {
		t.Errorf("ExecReload %q: want /bin/kill -HUP $MAINPID", got)
	}
	if !slices.Contains(svc["DynamicUser"], "yes") && len(svc["User"]) == 0 {
		t.Error("neither DynamicUser=yes nor a dedicated User=")
	}
	for key, want := range map[string]string{
		"NoNewPrivileges":        "yes",
		"ProtectSystem":          "strict",
		"ProtectHome":            "yes",
		"PrivateTmp":             "yes",
		"PrivateDevices":         "yes",
		"CapabilityBoundingSet":  "",
		"RestrictNamespaces":     "yes",
		"MemoryDenyWriteExecute": "yes",
	} {
		if !slices.Contains(svc[key], want) {
			t.Errorf("hardening: want %s=%s, got %q", key, want, svc[key])
		}
	}
	if af := strings.Join(svc["RestrictAddressFamilies"], " "); !strings.Contains(af, "AF_INET") || !strings.Contains(af, "AF_INET6") {
		t.Errorf("RestrictAddressFamilies %q must allow AF_INET and AF_INET6 (RMCP over UDP, HTTP)", af)
	}
	// The password travels as a credential; the unit's comment tells the module where to find it.
	for _, c := range svc["LoadCredential"] {
		name, _, _ := strings.Cut(c, ":")
		if !bytes.Contains(data, []byte("pass_file: /run/credentials/ipmi_fleet_exporter.service/"+name)) {
			t.Errorf("LoadCredential %s: the unit's comment does not show the pass_file that reads it", name)
		}
	}

	// systemd's own check, on a copy whose ExecStart names an existing binary. scripts/test.sh does not
	// install systemd, so this part is optional even under CI.
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed: unit checked without systemd-analyze verify")
	}
	truePath, err := exec.LookPath("true")
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(t.TempDir(), "ipmi_fleet_exporter.service")
	data = bytes.ReplaceAll(data, []byte("/usr/local/bin/ipmi_fleet_exporter"), []byte(truePath))
	if err := os.WriteFile(copyPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runErr(t, "", analyze, "verify", copyPath); err != nil || strings.TrimSpace(out) != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// k8sObject is one Kubernetes manifest, decoded loosely.
type k8sObject struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string            `yaml:"name"`
		Namespace string            `yaml:"namespace"`
		Labels    map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Spec       yaml.Node         `yaml:"spec"`
	file       string
}

func (o k8sObject) decodeSpec(t *testing.T, v any) {
	t.Helper()
	if err := o.Spec.Decode(v); err != nil {
		t.Fatalf("%s %s: spec: %v", o.Kind, o.Metadata.Name, err)
	}
}

func loadManifests(t *testing.T) map[string]k8sObject {
	t.Helper()
	dir := repoPath("deploy", "kubernetes")
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s (%v)", dir, err)
	}
	objs := map[string]k8sObject{}
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var o k8sObject
			err := dec.Decode(&o)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", filepath.Base(f), err)
			}
			o.file = filepath.Base(f)
			if o.APIVersion == "" || o.Kind == "" || o.Metadata.Name == "" {
				t.Errorf("%s: a document without apiVersion, kind or metadata.name", o.file)
				continue
			}
			if o.Metadata.Namespace != "monitoring" {
				t.Errorf("%s %s: namespace %q, want monitoring", o.Kind, o.Metadata.Name, o.Metadata.Namespace)
			}
			if _, dup := objs[o.Kind]; dup {
				t.Errorf("%s: a second %s; the checks below expect one of each", o.file, o.Kind)
			}
			objs[o.Kind] = o
		}
	}
	want := map[string]string{
		"Deployment":   "apps/v1",
		"Service":      "v1",
		"ConfigMap":    "v1",
		"Secret":       "v1",
		"PodMonitor":   "monitoring.coreos.com/v1",
		"ScrapeConfig": "monitoring.coreos.com/v1alpha1",
	}
	for kind, api := range want {
		o, ok := objs[kind]
		if !ok {
			t.Errorf("no %s manifest", kind)
		} else if o.APIVersion != api {
			t.Errorf("%s: apiVersion %q, want %q", kind, o.APIVersion, api)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return objs
}

type podSpec struct {
	Containers []struct {
		Name  string   `yaml:"name"`
		Image string   `yaml:"image"`
		Args  []string `yaml:"args"`
		Ports []struct {
			Name          string `yaml:"name"`
			ContainerPort int    `yaml:"containerPort"`
		} `yaml:"ports"`
		VolumeMounts []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
		} `yaml:"volumeMounts"`
		SecurityContext struct {
			ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
			AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		} `yaml:"securityContext"`
	} `yaml:"containers"`
	SecurityContext struct {
		RunAsNonRoot bool `yaml:"runAsNonRoot"`
	} `yaml:"securityContext"`
	Volumes []struct {
		Name      string `yaml:"name"`
		ConfigMap *struct {
			Name string `yaml:"name"`
		} `yaml:"configMap"`
		Secret *struct {
			SecretName string `yaml:"secretName"`
		} `yaml:"secret"`
	} `yaml:"volumes"`
}

func TestKubernetesManifests(t *testing.T) {
	objs := loadManifests(t)

	var kust struct {
		Resources []string `yaml:"resources"`
	}
	readYAML(t, repoPath("deploy", "kubernetes", "kustomization.yaml"), &kust)
	for _, o := range objs {
		if !slices.Contains(kust.Resources, o.file) {
			t.Errorf("kustomization.yaml does not list %s", o.file)
		}
	}

	var dep struct {
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
	}
	objs["Deployment"].decodeSpec(t, &dep)
	podLabels := dep.Template.Metadata.Labels
	selects := func(sel map[string]string) bool {
		for k, v := range sel {
			if podLabels[k] != v {
				return false
			}
		}
		return len(sel) > 0
	}
	if !selects(dep.Selector.MatchLabels) {
		t.Errorf("Deployment selector %v does not select its pods %v", dep.Selector.MatchLabels, podLabels)
	}
	pod := dep.Template.Spec
	if !pod.SecurityContext.RunAsNonRoot {
		t.Error("pod securityContext: want runAsNonRoot")
	}
	if len(pod.Containers) == 0 || pod.Containers[0].Name != "exporter" {
		t.Fatal("the first container must be the exporter")
	}
	c := pod.Containers[0]
	// The container runs the image's ENTRYPOINT with args appended: the configuration flag must
	// appear exactly once in the whole command line (kingpin refuses a repeated --config.file).
	cmdline := append(imageEntrypoint(t), c.Args...)
	var configFlags []string
	for _, a := range cmdline {
		if a == "--config.file" || strings.HasPrefix(a, "--config.file=") {
			configFlags = append(configFlags, a)
		}
	}
	if len(configFlags) != 1 || configFlags[0] != "--config.file="+configPath {
		t.Errorf("exporter command line %q (ENTRYPOINT + args): want --config.file=%s exactly once", cmdline, configPath)
	}
	if !c.SecurityContext.ReadOnlyRootFilesystem || c.SecurityContext.AllowPrivilegeEscalation == nil || *c.SecurityContext.AllowPrivilegeEscalation {
		t.Error("exporter securityContext: want readOnlyRootFilesystem and allowPrivilegeEscalation false")
	}
	port := ""
	for _, p := range c.Ports {
		if p.ContainerPort == 9290 {
			port = p.Name
		}
	}
	if port == "" {
		t.Fatal("exporter exposes no named port 9290")
	}
	mounts := map[string]string{} // volume -> mount path
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	var configDir, secretDir string
	for _, v := range pod.Volumes {
		switch {
		case v.ConfigMap != nil && v.ConfigMap.Name == objs["ConfigMap"].Metadata.Name:
			configDir = mounts[v.Name]
		case v.Secret != nil && v.Secret.SecretName == objs["Secret"].Metadata.Name:
			secretDir = mounts[v.Name]
		}
	}
	if configDir != filepath.Dir(configPath) {
		t.Errorf("ConfigMap mounted at %q, want %s", configDir, filepath.Dir(configPath))
	}
	if secretDir == "" {
		t.Fatal("the Secret is not mounted in the exporter container")
	}

	var svc struct {
		Selector map[string]string `yaml:"selector"`
		Ports    []struct {
			Name       string `yaml:"name"`
			Port       int    `yaml:"port"`
			TargetPort any    `yaml:"targetPort"`
		} `yaml:"ports"`
	}
	objs["Service"].decodeSpec(t, &svc)
	if !selects(svc.Selector) {
		t.Errorf("Service selector %v does not select the pods %v", svc.Selector, podLabels)
	}
	if len(svc.Ports) != 1 || svc.Ports[0].Port != 9290 || svc.Ports[0].TargetPort != port {
		t.Errorf("Service ports %+v: want 9290 to target port %q", svc.Ports, port)
	}

	var pm struct {
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Endpoints []struct {
			Port        string          `yaml:"port"`
			Path        string          `yaml:"path"`
			Relabelings []relabelConfig `yaml:"relabelings"`
		} `yaml:"podMetricsEndpoints"`
	}
	objs["PodMonitor"].decodeSpec(t, &pm)
	if !selects(pm.Selector.MatchLabels) {
		t.Errorf("PodMonitor selector %v does not select the pods %v", pm.Selector.MatchLabels, podLabels)
	}
	if len(pm.Endpoints) != 1 || pm.Endpoints[0].Port != port || pm.Endpoints[0].Path != "/metrics" {
		t.Errorf("PodMonitor endpoints %+v: want port %q path /metrics", pm.Endpoints, port)
	} else if out := relabel(t, map[string]string{"job": "monitoring/ipmi-fleet-exporter"}, camelRelabel(t, objs["PodMonitor"], "podMetricsEndpoints", 0)); out["job"] != "ipmi_fleet_exporter" {
		t.Errorf("PodMonitor: job becomes %q, the rules expect ipmi_fleet_exporter", out["job"])
	}

	var sc struct {
		HTTPSDConfigs []struct {
			URL string `yaml:"url"`
		} `yaml:"httpSDConfigs"`
		MetricsPath   string `yaml:"metricsPath"`
		ScrapeTimeout string `yaml:"scrapeTimeout"`
	}
	objs["ScrapeConfig"].decodeSpec(t, &sc)
	svcAddr := objs["Service"].Metadata.Name + "." + objs["Service"].Metadata.Namespace + ".svc:9290"
	if len(sc.HTTPSDConfigs) != 1 || sc.HTTPSDConfigs[0].URL != "http://"+svcAddr+"/sd" {
		t.Errorf("ScrapeConfig httpSDConfigs %+v: want http://%s/sd", sc.HTTPSDConfigs, svcAddr)
	}
	if sc.MetricsPath != "/ipmi" {
		t.Errorf("ScrapeConfig metricsPath %q, want /ipmi", sc.MetricsPath)
	}
	out := relabel(t, map[string]string{"__address__": "10.20.1.11", "__param_module": "default", "job": "scrapeConfig/monitoring/ipmi-bmc"},
		camelRelabel(t, objs["ScrapeConfig"], "", -1))
	if out["__param_target"] != "10.20.1.11" || out["instance"] != "10.20.1.11" || out["__address__"] != svcAddr ||
		out["__param_module"] != "default" || !strings.HasPrefix(out["job"], "ipmi_bmc") {
		t.Errorf("ScrapeConfig relabelling gives %v", out)
	}
	scrapeTimeout, err := time.ParseDuration(sc.ScrapeTimeout)
	if err != nil {
		t.Errorf("ScrapeConfig scrapeTimeout %q: %v", sc.ScrapeTimeout, err)
	}

	// The configuration in the ConfigMap loads with the Secret's files where the pod mounts them.
	cmData, ok := objs["ConfigMap"].Data[filepath.Base(configPath)]
	if !ok {
		t.Fatalf("ConfigMap has no key %s", filepath.Base(configPath))
	}
	tmp := t.TempDir()
	for k, v := range objs["Secret"].StringData {
		if err := os.WriteFile(filepath.Join(tmp, k), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(cmData, secretDir+"/") {
		t.Errorf("the configuration reads nothing from the Secret's mount %s", secretDir)
	}
	cfg, warnings, err := config.Parse([]byte(strings.ReplaceAll(cmData, secretDir+"/", tmp+"/")), filepath.Join(tmp, "ipmi_fleet_exporter.yml"), collector.Catalog())
	if err != nil {
		t.Fatalf("ConfigMap configuration: %v", err)
	}
	for _, w := range warnings {
		t.Errorf("ConfigMap configuration: warning %s", w)
	}
	for name, m := range cfg.Modules {
		if m.PasswordFile == "" {
			t.Errorf("module %s: password inline; use pass_file from the Secret", name)
		}
		if m.Timeout >= scrapeTimeout {
			t.Errorf("module %s: timeout %v not below the ScrapeConfig's scrapeTimeout %v", name, m.Timeout, scrapeTimeout)
		}
	}
	if len(cfg.Targets) == 0 {
		t.Error("the configuration lists no targets for /sd")
	}
}

// camelRelabel decodes prometheus-operator relabelings (camelCase keys) from an object's spec: from
// spec.relabelings when list is "", else from spec.<list>[index].relabelings.
func camelRelabel(t *testing.T, o k8sObject, list string, index int) []relabelConfig {
	t.Helper()
	var spec map[string]any
	o.decodeSpec(t, &spec)
	node := spec
	if list != "" {
		items, _ := spec[list].([]any)
		if index >= len(items) {
			t.Fatalf("%s: no %s[%d]", o.Kind, list, index)
		}
		node, _ = items[index].(map[string]any)
	}
	raw, err := json.Marshal(node["relabelings"])
	if err != nil {
		t.Fatal(err)
	}
	var rs []struct {
		SourceLabels []string `json:"sourceLabels"`
		Separator    *string  `json:"separator"`
		TargetLabel  string   `json:"targetLabel"`
		Regex        *string  `json:"regex"`
		Modulus      uint64   `json:"modulus"`
		Replacement  *string  `json:"replacement"`
		Action       string   `json:"action"`
	}
	if err := json.Unmarshal(raw, &rs); err != nil {
		t.Fatalf("%s relabelings: %v", o.Kind, err)
	}
	if len(rs) == 0 {
		t.Fatalf("%s: no relabelings", o.Kind)
	}
	out := make([]relabelConfig, len(rs))
	for i, r := range rs {
		out[i] = relabelConfig(r)
	}
	return out
}

var dockerInstrRe = regexp.MustCompile(`^([A-Z]+)\s+(.*)$`)

// dockerfile returns the Dockerfile's instructions (continuation lines joined, comments dropped).
func dockerfile(t *testing.T) [][2]string {
	t.Helper()
	data, err := os.ReadFile(repoPath("Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var out [][2]string
	var cur strings.Builder
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		m := dockerInstrRe.FindStringSubmatch(cur.String())
		if m == nil {
			t.Fatalf("Dockerfile: cannot read %q", cur.String())
		}
		out = append(out, [2]string{m[1], m[2]})
		cur.Reset()
	}
	return out
}

// imageEntrypoint is the final stage's ENTRYPOINT, in the exec form.
func imageEntrypoint(t *testing.T) []string {
	t.Helper()
	var entrypoint []string
	for _, in := range dockerfile(t) {
		switch in[0] {
		case "FROM":
			entrypoint = nil
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(in[1]), &entrypoint); err != nil {
				t.Fatalf("ENTRYPOINT %s: want the JSON (exec) form: %v", in[1], err)
			}
		}
	}
	return entrypoint
}

func TestDockerfile(t *testing.T) {
	instrs := dockerfile(t)
	gomod, err := os.ReadFile(repoPath("go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if goVersion == nil {
		t.Fatal("no go directive in go.mod")
	}
	args := map[string]string{}
	var stages []string // FROM lines
	var final [][2]string
	for _, in := range instrs {
		switch in[0] {
		case "ARG":
			k, v, _ := strings.Cut(in[1], "=")
			args[k] = v
		case "FROM":
			stages = append(stages, in[1])
			final = nil
		}
		final = append(final, in)
	}
	if len(stages) < 2 {
		t.Fatalf("FROM %v: want a build stage and a runtime stage", stages)
	}
	build := os.Expand(stages[0], func(k string) string { return args[k] })
	if !strings.HasPrefix(build, "golang:"+string(goVersion[1])) {
		t.Errorf("build stage FROM %q: want golang:%s (go.mod's go version)", build, goVersion[1])
	}
	runtime := stages[len(stages)-1]
	if !strings.HasPrefix(runtime, "gcr.io/distroless/static") && !strings.HasPrefix(runtime, "scratch") {
		t.Errorf("runtime stage FROM %q: want distroless static or scratch", runtime)
	}
	var buildCmd, user, expose, binary string
	var entrypoint []string
	for _, in := range instrs {
		if in[0] == "RUN" && strings.Contains(in[1], "go build") {
			buildCmd = in[1]
		}
	}
	for _, in := range final {
		switch in[0] {
		case "USER":
			user = in[1]
		case "EXPOSE":
			expose = in[1]
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(in[1]), &entrypoint); err != nil {
				t.Errorf("ENTRYPOINT %s: want the JSON (exec) form: %v", in[1], err)
			}
		case "COPY":
			if f := strings.Fields(in[1]); strings.HasPrefix(in[1], "--from=") && len(f) == 3 {
				binary = f[2]
			}
		}
	}
	if !strings.Contains(buildCmd, "CGO_ENABLED=0") || !regexp.MustCompile(`go build .* \.( |$)`).MatchString(buildCmd) ||
		!strings.Contains(buildCmd, "/ipmi_fleet_exporter") {
		t.Errorf("build RUN %q: want CGO_ENABLED=0 go build ... -o .../ipmi_fleet_exporter .", buildCmd)
	}
	if user == "" || user == "root" || strings.HasPrefix(user, "0") {
		t.Errorf("USER %q: want a non-root user in the runtime stage", user)
	}
	if expose != "9290" {
		t.Errorf("EXPOSE %q, want 9290", expose)
	}
	if len(entrypoint) < 2 || entrypoint[0] != binary || entrypoint[1] != "--config.file="+configPath {
		t.Errorf("ENTRYPOINT %q: want [%q --config.file=%s]", entrypoint, binary, configPath)
	}
	if filepath.Base(binary) != "ipmi_fleet_exporter" {
		t.Errorf("binary copied to %q, want .../ipmi_fleet_exporter", binary)
	}

	// .dockerignore must keep the build context small without losing what the build needs.
	ignore, err := os.ReadFile(repoPath(".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, l := range strings.Split(string(ignore), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, strings.TrimSuffix(l, "/"))
		}
	}
	if !slices.Contains(patterns, ".git") {
		t.Error(".dockerignore does not exclude .git")
	}
	// Needed: go.mod, go.sum, the top directory's Go files and every file in the other directories
	// of Go sources (their go:embed files too).
	needed := []string{"go.mod", "go.sum"}
	err = filepath.WalkDir(RepoDir(), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		if filepath.Dir(path) == RepoDir() {
			// The top directory holds the Dockerfile and documents too: only its Go files count.
			needed = append(needed, filepath.Base(path))
			return nil
		}
		entries, err := os.ReadDir(filepath.Dir(path))
		if err != nil {
			return err
		}
		for _, e := range entries {
			if !e.IsDir() {
				rel, _ := filepath.Rel(RepoDir(), filepath.Join(filepath.Dir(path), e.Name()))
				needed = append(needed, rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	excluded := map[string]bool{}
	for _, f := range needed {
		for _, p := range patterns {
			if excluded[f] || !dockerignoreMatches(p, f) {
				continue
			}
			excluded[f] = true
			t.Errorf(".dockerignore pattern %q excludes %s, which the build needs", p, f)
		}
	}
}

// dockerignoreMatches reports whether a .dockerignore pattern (without negation) excludes rel: the
// pattern matches the path or one of its parent directories.
func dockerignoreMatches(pattern, rel string) bool {
	pattern = strings.TrimPrefix(pattern, "/")
	for p := rel; p != "." && p != ""; p = filepath.Dir(p) {
		if ok, _ := filepath.Match(pattern, p); ok {
			return true
		}
	}
	return false
}
