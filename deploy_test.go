package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// These tests start the binary exactly as each shipped deployment starts
// it: the container image's ENTRYPOINT (and CMD) with a Kubernetes
// workload's command and args, or a systemd unit's ExecStart. Every file
// the deployment puts in place (ConfigMap and Secret volumes, systemd
// credentials) is written under a temporary root, and absolute paths are
// mapped below that root, so the configuration loads with the same
// references to mounted files it has in production. They pick up every
// Deployment, DaemonSet and StatefulSet under deploy/kubernetes and every
// unit under deploy/systemd, so a new deployment file is tested without
// editing this file.

// imageCommand is the final stage's ENTRYPOINT and CMD of the Dockerfile
// (exec form only: the shell form would need a shell, which the
// distroless image does not have).
func imageCommand(t *testing.T) (entrypoint, cmd []string) {
	t.Helper()
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var joined []string
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
		joined = append(joined, cur.String())
		cur.Reset()
	}
	execForm := func(instr, rest string) []string {
		var v []string
		if err := json.Unmarshal([]byte(rest), &v); err != nil {
			t.Fatalf("Dockerfile %s %s: not the exec (JSON) form: %v", instr, rest, err)
		}
		return v
	}
	for _, l := range joined {
		instr, rest, _ := strings.Cut(l, " ")
		switch strings.ToUpper(instr) {
		case "FROM": // a new stage starts afresh
			entrypoint, cmd = nil, nil
		case "ENTRYPOINT":
			entrypoint = execForm(instr, strings.TrimSpace(rest))
			cmd = nil // Docker: setting ENTRYPOINT resets an inherited CMD
		case "CMD":
			cmd = execForm(instr, strings.TrimSpace(rest))
		}
	}
	if len(entrypoint) == 0 {
		t.Fatal("Dockerfile: no ENTRYPOINT in the final stage")
	}
	return entrypoint, cmd
}

// rooted maps the absolute path p below root.
func rooted(root, p string) string { return filepath.Join(root, filepath.FromSlash(p)) }

// mapArgs replaces the binary (args[0]) with the test's build and maps
// absolute paths in flag values (--flag=/path) below root.
func mapArgs(root string, args []string) []string {
	out := []string{binary}
	for _, a := range args[1:] {
		if name, val, ok := strings.Cut(a, "="); ok && strings.HasPrefix(name, "--") && strings.HasPrefix(val, "/") {
			a = name + "=" + rooted(root, val)
		}
		out = append(out, a)
	}
	return out
}

// withListen gives the process a free loopback port instead of :9290,
// replacing a --web.listen-address it has or adding one (the flag is
// repeatable: the default applies only when it is absent).
func withListen(args []string, listen string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] == "--web.listen-address" && i+1 < len(args) {
			i++
			continue
		}
		if strings.HasPrefix(args[i], "--web.listen-address=") {
			continue
		}
		out = append(out, args[i])
	}
	return append(out, "--web.listen-address="+listen)
}

type k8sDoc struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Spec       struct {
		Template struct {
			Spec struct {
				Containers []struct {
					Name         string   `yaml:"name"`
					Image        string   `yaml:"image"`
					Command      []string `yaml:"command"`
					Args         []string `yaml:"args"`
					VolumeMounts []struct {
						Name      string `yaml:"name"`
						MountPath string `yaml:"mountPath"`
						SubPath   string `yaml:"subPath"`
					} `yaml:"volumeMounts"`
					ReadinessProbe struct {
						HTTPGet struct {
							Path string `yaml:"path"`
						} `yaml:"httpGet"`
					} `yaml:"readinessProbe"`
				} `yaml:"containers"`
				Volumes []struct {
					Name      string `yaml:"name"`
					ConfigMap *struct {
						Name  string `yaml:"name"`
						Items []struct {
							Key  string `yaml:"key"`
							Path string `yaml:"path"`
						} `yaml:"items"`
					} `yaml:"configMap"`
					Secret *struct {
						SecretName string `yaml:"secretName"`
						Items      []struct {
							Key  string `yaml:"key"`
							Path string `yaml:"path"`
						} `yaml:"items"`
					} `yaml:"secret"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
	file string
}

func loadK8s(t *testing.T) []k8sDoc {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("deploy", "kubernetes", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// Kustomizations of their own in subdirectories (local/).
	more, err := filepath.Glob(filepath.Join("deploy", "kubernetes", "*", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, more...)
	var docs []k8sDoc
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var d k8sDoc
			err := dec.Decode(&d)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			d.file = f
			docs = append(docs, d)
		}
	}
	return docs
}

// exporterImage is the image name the manifests run the exporter from.
const exporterImage = "ghcr.io/ipmifleet/ipmi_fleet_exporter"

func TestKubernetesWorkloadsStart(t *testing.T) {
	entrypoint, cmd := imageCommand(t)
	docs := loadK8s(t)
	configMaps, secrets := map[string]map[string][]byte{}, map[string]map[string][]byte{}
	for _, d := range docs {
		switch d.Kind {
		case "ConfigMap":
			m := map[string][]byte{}
			for k, v := range d.Data {
				m[k] = []byte(v)
			}
			configMaps[d.Metadata.Name] = m
		case "Secret":
			m := map[string][]byte{}
			for k, v := range d.Data {
				b, err := base64.StdEncoding.DecodeString(v)
				if err != nil {
					t.Fatalf("%s: Secret %s key %s: %v", d.file, d.Metadata.Name, k, err)
				}
				m[k] = b
			}
			for k, v := range d.StringData {
				m[k] = []byte(v)
			}
			secrets[d.Metadata.Name] = m
		}
	}
	workloads := 0
	for _, d := range docs {
		if d.Kind != "Deployment" && d.Kind != "DaemonSet" && d.Kind != "StatefulSet" {
			continue
		}
		pod := d.Spec.Template.Spec
		for _, c := range pod.Containers {
			if !strings.HasPrefix(c.Image, exporterImage+":") && c.Image != exporterImage {
				continue
			}
			workloads++
			t.Run(d.Kind+"/"+d.Metadata.Name+"/"+c.Name, func(t *testing.T) {
				root := t.TempDir()
				var mountPaths []string
				for _, m := range c.VolumeMounts {
					mountPaths = append(mountPaths, m.MountPath)
				}
				// Materialise the volumes, with paths in file contents
				// that name a mount mapped below root.
				mapContent := func(b []byte) []byte {
					for _, mp := range mountPaths {
						b = bytes.ReplaceAll(b, []byte(mp+"/"), []byte(rooted(root, mp)+"/"))
					}
					return b
				}
				for _, m := range c.VolumeMounts {
					dir := rooted(root, m.MountPath)
					if err := os.MkdirAll(dir, 0o755); err != nil {
						t.Fatal(err)
					}
					var files map[string][]byte
					var items map[string]string // key -> path, when the volume picks keys
					for _, v := range pod.Volumes {
						if v.Name != m.Name {
							continue
						}
						switch {
						case v.ConfigMap != nil:
							files = configMaps[v.ConfigMap.Name]
							if files == nil {
								t.Fatalf("volume %s: no ConfigMap %s in deploy/kubernetes", v.Name, v.ConfigMap.Name)
							}
							if len(v.ConfigMap.Items) > 0 {
								items = map[string]string{}
								for _, it := range v.ConfigMap.Items {
									items[it.Key] = it.Path
								}
							}
						case v.Secret != nil:
							files = secrets[v.Secret.SecretName]
							if files == nil {
								t.Fatalf("volume %s: no Secret %s in deploy/kubernetes", v.Name, v.Secret.SecretName)
							}
							if len(v.Secret.Items) > 0 {
								items = map[string]string{}
								for _, it := range v.Secret.Items {
									items[it.Key] = it.Path
								}
							}
						}
					}
					for k, content := range files {
						name := k
						if items != nil {
							p, ok := items[k]
							if !ok {
								continue
							}
							name = p
						}
						if m.SubPath != "" {
							if m.SubPath != name {
								continue
							}
							dir, name = filepath.Dir(dir), filepath.Base(dir)
						}
						path := filepath.Join(dir, filepath.FromSlash(name))
						if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
							t.Fatal(err)
						}
						if err := os.WriteFile(path, mapContent(content), 0o600); err != nil {
							t.Fatal(err)
						}
					}
				}
				// Kubernetes: command replaces ENTRYPOINT, args replace
				// CMD; a command without args drops CMD.
				argv := append([]string(nil), entrypoint...)
				switch {
				case c.Command != nil:
					argv = append(append([]string(nil), c.Command...), c.Args...)
				case c.Args != nil:
					argv = append(argv, c.Args...)
				default:
					argv = append(argv, cmd...)
				}
				t.Logf("container command line: %q", argv)
				p := startArgv(t, withListen(mapArgs(root, argv), freePort(t)))
				path := c.ReadinessProbe.HTTPGet.Path
				if path == "" {
					path = "/-/ready"
				}
				p.waitPath(t, path)
				checkLocalMode(t, p, argv)
			})
		}
	}
	if workloads == 0 {
		t.Fatalf("no workload in deploy/kubernetes runs %s", exporterImage)
	}
}

// unitLine is one key=value of a systemd unit's [Service] section.
var unitKV = regexp.MustCompile(`^([A-Za-z]+)=(.*)$`)

func TestSystemdUnitsStart(t *testing.T) {
	units, err := filepath.Glob(filepath.Join("deploy", "systemd", "*.service"))
	if err != nil {
		t.Fatal(err)
	}
	if len(units) == 0 {
		t.Fatal("no systemd unit in deploy/systemd")
	}
	for _, unit := range units {
		t.Run(filepath.Base(unit), func(t *testing.T) {
			f, err := os.Open(unit)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var execStart []string
			var creds [][2]string // name, source
			section := ""
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				line := strings.TrimSpace(sc.Text())
				if strings.HasPrefix(line, "[") {
					section = line
					continue
				}
				m := unitKV.FindStringSubmatch(line)
				if section != "[Service]" || m == nil {
					continue
				}
				switch m[1] {
				case "ExecStart":
					if execStart != nil {
						t.Fatal("more than one ExecStart= in a Type=simple unit")
					}
					// Prefixes: - (ignore failure), @, +, !, !! change how
					// systemd runs the command, not the command line.
					execStart = strings.Fields(strings.TrimLeft(m[2], "-@+!:|"))
				case "LoadCredential":
					name, src, _ := strings.Cut(m[2], ":")
					creds = append(creds, [2]string{name, src})
				}
			}
			if err := sc.Err(); err != nil {
				t.Fatal(err)
			}
			if len(execStart) == 0 {
				t.Fatal("no ExecStart=")
			}
			t.Logf("ExecStart: %q", execStart)
			root := t.TempDir()
			// systemd copies each credential to
			// $CREDENTIALS_DIRECTORY=/run/credentials/<unit>/<name>.
			credDir := rooted(root, "/run/credentials/"+filepath.Base(unit))
			if err := os.MkdirAll(credDir, 0o700); err != nil {
				t.Fatal(err)
			}
			config := "modules:\n  default:\n    user: monitor\n    allowed_targets: [127.0.0.1/32]\n"
			if documented := configInComment(t, unit, execStart); documented != "" {
				// The configuration the unit's comment tells the
				// operator to install (local mode: no credentials).
				config, creds = documented, nil
			}
			for i, c := range creds {
				if err := os.WriteFile(filepath.Join(credDir, c[0]), []byte("secret-"+c[0]+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					config += "    pass_file: " + filepath.Join(credDir, c[0]) + "\n"
				}
			}
			if len(creds) == 0 && !strings.Contains(config, "OPENIPMI") {
				config += "    pass: not-a-secret\n"
			}
			argv := mapArgs(root, execStart)
			// The configuration the unit's --config.file names: the
			// operator installs it (the unit's comment says how).
			for _, a := range argv {
				if v, ok := strings.CutPrefix(a, "--config.file="); ok {
					if err := os.MkdirAll(filepath.Dir(v), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(v, []byte(config), 0o600); err != nil {
						t.Fatal(err)
					}
				}
			}
			p := startArgv(t, withListen(argv, freePort(t)))
			p.waitPath(t, "/-/ready")
			checkLocalMode(t, p, argv)
		})
	}
}

// configInComment returns the configuration file a unit's comment shows
// for the --config.file its ExecStart names (a "# /path:" line followed by
// the file's lines, indented), or "" if it shows none.
func configInComment(t *testing.T, unit string, execStart []string) string {
	t.Helper()
	path := ""
	for _, a := range execStart {
		if v, ok := strings.CutPrefix(a, "--config.file="); ok {
			path = v
		}
	}
	data, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	in := false
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case path != "" && line == "# "+path+":":
			in = true
		case in && strings.HasPrefix(line, "#    "):
			b.WriteString(strings.TrimPrefix(line, "#    ") + "\n")
		case in:
			return b.String()
		}
	}
	return b.String()
}

// checkLocalMode: an exporter started with --local.module serves this
// machine's BMC on /metrics next to its own metrics, and starts whether or
// not the machine has an IPMI device (without one, ipmi_up is 0 and the
// log says which kernel modules to load).
func checkLocalMode(t *testing.T, p *process, argv []string) {
	t.Helper()
	local := false
	for _, a := range argv {
		local = local || strings.HasPrefix(a, "--local.module=")
	}
	if !local {
		return
	}
	code, body := get(t, p.url("/metrics"))
	if code != 200 || !strings.Contains(body, "go_goroutines ") || !strings.Contains(body, `ipmi_up{collector="ipmi"} `) {
		t.Fatalf("/metrics in local mode: HTTP %d\n%s", code, body)
	}
	if _, err := os.Stat("/dev/ipmi0"); err == nil {
		return
	}
	if !strings.Contains(body, `ipmi_up{collector="ipmi"} 0`) || !strings.Contains(p.output(), "modprobe ipmi_devintf") {
		t.Errorf("local mode without an IPMI device: want ipmi_up 0 and the modules to load in the log\n%s\n%s", body, p.output())
	}
}
