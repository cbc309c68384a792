package hardening

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// selfSigned returns a PEM certificate and key for 127.0.0.1 and
// localhost, valid for an hour.
func selfSigned(t testing.TB) (certPEM, keyPEM []byte, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "hardening test exporter"},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err = x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), cert
}

// TestWebConfigTLSAndBasicAuth runs the built binary with
// --web.config.file (TLS with a self-signed certificate, basic auth with a
// bcrypt hash) and talks to it with real TLS clients: only HTTPS with the
// right credentials gets anything, scrapes work through it (a 10 MB query
// included), and the scrape password appears nowhere in the logs.
func TestWebConfigTLSAndBasicAuth(t *testing.T) {
	t.Parallel() // its own exporter process and BMCs
	const user, password = "prometheus", "Scrape-pw-4f1d9"
	fleet := startFleet(t, fleetOpts{})
	dir := t.TempDir()
	certPEM, keyPEM, cert := selfSigned(t)
	writeFile(t, dir, "cert.pem", string(certPEM), 0o600)
	writeFile(t, dir, "key.pem", string(keyPEM), 0o600)
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webCfg := writeFile(t, dir, "web.yml", "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n"+
		"basic_auth_users:\n  "+user+": "+string(hash)+"\n", 0o600)
	cfg := writeFile(t, dir, "config.yml", moduleYAML("default", simUser, simPassword, ""), 0o600)
	p := startProc(t, "--config.file="+cfg, "--web.config.file="+webCfg, "--log.level=debug")
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	p.useTLS(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12})
	p.waitReady(t)

	get := func(client *http.Client, url, u, pw string) (int, string, error) {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if u != "" {
			req.SetBasicAuth(u, pw)
		}
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "10")
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), err
	}
	scrapeTarget := p.url("/ipmi?target=" + fleet.BMC(0).Addr().String())

	// Plain HTTP on the TLS port.
	code, body, err := get(&http.Client{}, "http://"+p.listen+"/metrics", user, password)
	if err != nil || code != http.StatusBadRequest {
		t.Errorf("plain HTTP: %d %q %v, want Go's 400 for HTTP to an HTTPS server", code, body, err)
	}
	// A client that does not trust the certificate.
	untrusting := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}}
	if _, _, err := get(untrusting, p.url("/metrics"), user, password); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("an untrusting client: %v, want a certificate error", err)
	}
	untrusting.CloseIdleConnections()
	for _, c := range []struct{ u, pw string }{{"", ""}, {user, "wrong"}, {"someone", password}, {user, password + "x"}} {
		for _, path := range []string{"/metrics", "/ipmi?target=" + fleet.BMC(0).Addr().String(), "/-/reload", "/sd"} {
			code, body, err := get(p.client, p.url(path), c.u, c.pw)
			if err != nil || code != http.StatusUnauthorized {
				t.Errorf("%s as %q/%q: %d %q %v, want 401", path, c.u, c.pw, code, truncate(body, 100), err)
			}
		}
	}
	if n := fleet.BMC(0).Counters().PacketsIn; n != 0 {
		t.Fatalf("unauthenticated requests made the exporter send %d packets", n)
	}
	code, body, err = get(p.client, p.url("/metrics"), user, password)
	if err != nil || code != http.StatusOK || !strings.Contains(body, "ipmi_fleet_exporter_build_info") {
		t.Fatalf("/metrics with credentials: %d %v", code, err)
	}
	code, body, err = get(p.client, scrapeTarget, user, password)
	if err != nil || code != http.StatusOK {
		t.Fatalf("scrape with credentials: %d %q %v", code, truncate(body, 200), err)
	}
	mfs, err := parseExposition(body)
	if err != nil {
		t.Fatal(err)
	}
	if r := (scrapeResult{up: upValues(mfs)}); !r.allUp() {
		t.Fatalf("scrape over TLS: %s", fmtUp(r.up))
	}
	code, body, err = get(p.client, scrapeTarget+"&pad="+strings.Repeat("x", 10<<20), user, password)
	if err != nil {
		t.Fatal(err)
	}
	requireOneLine400(t, "10 MB query over TLS", scrapeResult{status: code, body: body}, "at most")

	p.signal(t, syscall.SIGTERM)
	if code := p.waitExit(t, 30*time.Second); code != 0 {
		t.Errorf("exit code %d", code)
	}
	requireNoBMCSessions(t, fleet)
	logs := p.out.String()
	if !strings.Contains(logs, "TLS is enabled") {
		t.Errorf("the log does not say TLS is enabled:\n%s", truncate(logs, 3000))
	}
	requireNoSecret(t, "the exporter's log", logs, password, simPassword)
}
