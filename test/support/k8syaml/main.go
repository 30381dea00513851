// k8syaml reads YAML streams the way kubectl and the API server do (sigs.k8s.io/yaml over
// go-yaml) and prints each document as one line of JSON. The render property test compares
// that with what Gantry meant to write.
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

func main() {
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(in)))
	for {
		doc, err := reader.Read()
		if err == io.EOF {
			return
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%v\n--- document ---\n%s\n", err, doc)
			os.Exit(1)
		}
		out.Write(j)
		out.WriteString("\n")
	}
}
