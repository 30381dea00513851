// Command k8s is a multi-call binary bundling the Kubernetes components that a
// single-node test cluster needs: kube-apiserver, kube-controller-manager,
// kube-scheduler, kubelet, kube-proxy and kubectl, all from the k8s.io/kubernetes
// release pinned in go.mod.
//
// The component is chosen by the basename of argv[0] (so symlinks named
// kube-apiserver, kubelet, ... work), or else by the first argument:
//
//	k8s apiserver --etcd-servers=...      (same as kube-apiserver --etcd-servers=...)
//	k8s kube-apiserver --version
//	k8s kubectl version --client
//
// Each branch mirrors the main() of cmd/<component>/*.go in that release.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	_ "time/tzdata" // kube-apiserver and kube-controller-manager: CronJob time zone support

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // JSON log format registration
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metric registration
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric registration

	_ "k8s.io/client-go/plugin/pkg/client/auth" // kubectl: auth provider plugins
	kubectlcmd "k8s.io/kubectl/pkg/cmd"
	kubectlutil "k8s.io/kubectl/pkg/cmd/util"

	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	proxy "k8s.io/kubernetes/cmd/kube-proxy/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kubelet "k8s.io/kubernetes/cmd/kubelet/app"
)

// components maps each canonical command name to the function running it; the
// function returns the process exit code.
var components = map[string]func() int{
	"kube-apiserver": func() int {
		return cli.Run(apiserver.NewAPIServerCommand())
	},
	"kube-controller-manager": func() int {
		return cli.Run(controllermanager.NewControllerManagerCommand())
	},
	"kube-scheduler": func() int {
		return cli.Run(scheduler.NewSchedulerCommand())
	},
	"kubelet": func() int {
		return cli.Run(kubelet.NewKubeletCommand())
	},
	"kube-proxy": func() int {
		return cli.Run(proxy.NewProxyCommand())
	},
	"kubectl": func() int {
		// cobra merges pflag.CommandLine into every root command. In this
		// binary it holds --version, registered at init by
		// k8s.io/component-base/version/verflag for the server components;
		// upstream kubectl never links that package (its sanity check
		// forbids pflag.CommandLine flags), so start kubectl with an empty one.
		pflag.CommandLine = pflag.NewFlagSet(os.Args[0], pflag.ExitOnError)
		command := kubectlcmd.NewDefaultKubectlCommand()
		if err := cli.RunNoErrOutput(command); err != nil {
			kubectlutil.CheckErr(err) // prints the error and exits non-zero
		}
		return 0
	},
}

// lookup resolves a name (argv[0] basename or first argument) to a canonical
// component name. "apiserver" and "kube-apiserver" are both accepted, as is a
// trailing ".exe".
func lookup(name string) (string, bool) {
	name = strings.TrimSuffix(filepath.Base(name), ".exe")
	if _, ok := components[name]; ok {
		return name, true
	}
	if _, ok := components["kube-"+name]; ok {
		return "kube-" + name, true
	}
	return "", false
}

func usage() {
	names := make([]string, 0, len(components))
	for n := range components {
		names = append(names, n)
	}
	sort.Strings(names)
	self := filepath.Base(os.Args[0])
	fmt.Fprintf(os.Stderr, "usage: %s COMPONENT [args...]\n   or: invoke through a link named after the component\n\ncomponents:\n", self)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %s\n", n)
	}
}

func main() {
	if name, ok := lookup(os.Args[0]); ok {
		os.Args[0] = name
		os.Exit(components[name]())
	}
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	switch os.Args[1] {
	case "-h", "--help", "help":
		usage()
		os.Exit(0)
	}
	name, ok := lookup(os.Args[1])
	if !ok {
		fmt.Fprintf(os.Stderr, "%s: unknown component %q\n\n", filepath.Base(os.Args[0]), os.Args[1])
		usage()
		os.Exit(2)
	}
	// Present the component with argv as if it had been run directly: cobra
	// parses os.Args[1:], and kubectl's plugin handling also reads os.Args.
	os.Args = append([]string{name}, os.Args[2:]...)
	os.Exit(components[name]())
}
