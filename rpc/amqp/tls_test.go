package amqp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testCA makes a CA and a server certificate for dnsName signed by it.
func testCA(t *testing.T, dnsName string) (caPEM []byte, server tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: dnsName}, DNSNames: []string{dnsName},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		tls.Certificate{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}
}

// handshake runs a TLS handshake between cfg (client, for serverName) and
// a server presenting cert.
func handshake(cfg *tls.Config, serverName string, cert tls.Certificate) error {
	// loopback TCP, not net.Pipe: both sides may write at once (an alert)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	go func() {
		s, err := ln.Accept()
		if err != nil {
			return
		}
		defer s.Close()
		_ = s.SetDeadline(time.Now().Add(10 * time.Second))
		_ = tls.Server(s, &tls.Config{Certificates: []tls.Certificate{cert}}).Handshake()
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	cfg = cfg.Clone()
	cfg.ServerName = serverName
	return tls.Client(c, cfg).Handshake()
}

func TestTLSConfig(t *testing.T) {
	caPEM, cert := testCA(t, "rmq.example")
	otherCA, _ := testCA(t, "rmq.example")
	dir := t.TempDir()
	caFile, otherFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "other.pem")
	_ = os.WriteFile(caFile, caPEM, 0o600)
	_ = os.WriteFile(otherFile, otherCA, 0o600)

	if cfg, err := (&Options{}).tlsConfig(); cfg != nil || err != nil {
		t.Errorf("ssl off: %v %v", cfg, err)
	}
	// ssl without a CA: no verification at all (oslo)
	cfg, err := (&Options{SSL: true}).tlsConfig()
	if err != nil || handshake(cfg, "whatever", cert) != nil {
		t.Errorf("ssl without CA: %v", err)
	}
	// with the CA: chain checked, name not checked by default
	cfg, err = (&Options{SSL: true, SSLCAFile: caFile}).tlsConfig()
	if err != nil {
		t.Fatal(err)
	}
	if err := handshake(cfg, "10.0.0.1", cert); err != nil {
		t.Errorf("good chain, other name: %v", err)
	}
	cfg, _ = (&Options{SSL: true, SSLCAFile: otherFile}).tlsConfig()
	if err := handshake(cfg, "rmq.example", cert); err == nil {
		t.Error("certificate of another CA accepted")
	}
	// ssl_enforce_hostname_verification
	cfg, _ = (&Options{SSL: true, SSLCAFile: caFile, SSLEnforceHostnameVerification: true}).tlsConfig()
	if err := handshake(cfg, "rmq.example", cert); err != nil {
		t.Errorf("matching name: %v", err)
	}
	if err := handshake(cfg, "other.example", cert); err == nil {
		t.Error("wrong name accepted with hostname verification")
	}
	if _, err := (&Options{SSL: true, SSLCAFile: filepath.Join(dir, "missing")}).tlsConfig(); err == nil {
		t.Error("missing CA file accepted")
	}
	if _, err := (&Options{SSL: true, SSLCertFile: filepath.Join(dir, "missing")}).tlsConfig(); err == nil {
		t.Error("missing client certificate accepted")
	}
}
