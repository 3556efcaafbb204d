package amqp

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// tlsConfig builds the client TLS settings of [oslo_messaging_rabbit] ssl*:
// nil without ssl; the chain is verified against ssl_ca_file when given
// (the broker name only with ssl_enforce_hostname_verification), and not at
// all without a CA file, as with oslo.messaging.
func (o *Options) tlsConfig() (*tls.Config, error) {
	if !o.SSL {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.SSLCertFile != "" || o.SSLKeyFile != "" {
		key := o.SSLKeyFile
		if key == "" {
			key = o.SSLCertFile // key inside the certificate file
		}
		cert, err := tls.LoadX509KeyPair(o.SSLCertFile, key)
		if err != nil {
			return nil, fmt.Errorf("ssl_cert_file/ssl_key_file: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if o.SSLCAFile == "" {
		cfg.InsecureSkipVerify = true // oslo: ssl without a CA verifies nothing
		return cfg, nil
	}
	pem, err := os.ReadFile(o.SSLCAFile)
	if err != nil {
		return nil, fmt.Errorf("ssl_ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("ssl_ca_file %s: no PEM certificate", o.SSLCAFile)
	}
	cfg.RootCAs = pool
	if o.SSLEnforceHostnameVerification {
		return cfg, nil
	}
	// verify the chain but not the name
	cfg.InsecureSkipVerify = true
	cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
		if len(raw) == 0 {
			return errors.New("broker sent no certificate")
		}
		certs := make([]*x509.Certificate, 0, len(raw))
		for _, r := range raw {
			c, err := x509.ParseCertificate(r)
			if err != nil {
				return fmt.Errorf("broker certificate: %w", err)
			}
			certs = append(certs, c)
		}
		inter := x509.NewCertPool()
		for _, c := range certs[1:] {
			inter.AddCert(c)
		}
		_, err := certs[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter})
		if err != nil {
			return fmt.Errorf("broker certificate: %w", err)
		}
		return nil
	}
	return cfg, nil
}
