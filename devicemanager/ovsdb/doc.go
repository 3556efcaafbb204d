// Package ovsdb holds the libovsdb models of the Open_vSwitch database,
// generated from vswitch.ovsschema (a copy of Debian's
// /usr/share/openvswitch/vswitch.ovsschema, OVS 3.1, schema 8.3.1) so that
// generating needs no system file. Regenerate with `go generate` in this
// directory. Only the generated files and the schema live here.
package ovsdb

//go:generate go run github.com/ovn-org/libovsdb/cmd/modelgen -p ovsdb -o . vswitch.ovsschema
