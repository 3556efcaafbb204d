package model

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// pathAt returns the JSON path ("ports[3].mac_address") of the value that
// ends at byte offset in data, by walking its tokens. encoding/json's type
// errors name the field without array indexes; this puts them back. It
// returns "" when the walk fails.
func pathAt(data []byte, offset int64) string {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		array bool
		index int
		key   string
		atKey bool // object: the next string token is a key
	}
	var stack []frame
	render := func() string {
		var b strings.Builder
		for _, f := range stack {
			if f.array {
				b.WriteString("[" + strconv.Itoa(f.index-1) + "]")
			} else if f.key != "" {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(f.key)
			}
		}
		return b.String()
	}
	// value is called after each complete value inside the current container
	value := func() {
		if n := len(stack); n > 0 && !stack[n-1].array {
			stack[n-1].atKey = true
		}
	}
	for {
		// a scalar or container opening: count it in an enclosing array
		if n := len(stack); n > 0 && stack[n-1].array && dec.More() {
			stack[n-1].index++
		}
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		switch t := tok.(type) {
		case json.Delim:
			if (t == '{' || t == '[') && dec.InputOffset() >= offset {
				return render() // the mismatched value is this container
			}
			switch t {
			case '{':
				stack = append(stack, frame{atKey: true})
			case '[':
				stack = append(stack, frame{array: true})
			case '}', ']':
				if dec.InputOffset() >= offset {
					stack = stack[:len(stack)-1]
					return render()
				}
				stack = stack[:len(stack)-1]
				value()
			}
			continue
		case string:
			if n := len(stack); n > 0 && !stack[n-1].array && stack[n-1].atKey {
				stack[n-1].key, stack[n-1].atKey = t, false
				continue
			}
		}
		if dec.InputOffset() >= offset {
			return render()
		}
		value()
	}
}
