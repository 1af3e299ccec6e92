// The cluster DNS of the test bed's real node (testbed/kubelet.sh), which has no CoreDNS: it answers what a pod
// asks of Kubernetes' DNS for a Service, <service>.<namespace>.svc.<domain> -> the Service's cluster IP, read from
// the API server at each question, so a pod reaches a Service by its name as it does on any cluster. Any other name
// is refused and never forwarded: nothing a pod looks up leaves this machine, and each such name is logged with
// "outside the cluster:" so the egress guard can fail the run on it. Names under .berth-egress-probe.invalid are the
// guard's canary (its own test looks one up): logged as "probe, outside the cluster:", which the guard leaves alone.
package main

import (
	"context"
	"flag"
	"log"
	"net"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

const (
	ttl         = 5
	probeSuffix = ".berth-egress-probe.invalid."
)

type resolver struct {
	client *kubernetes.Clientset
	suffix string // ".svc.<domain>."
}

// clusterIP is the Service's IPv4 cluster IP; found is false for a name that is no Service of the cluster.
func (r *resolver) clusterIP(name string) (ip net.IP, inCluster bool, found bool) {
	if !strings.HasSuffix(name, r.suffix) {
		return nil, strings.HasSuffix(name, strings.TrimPrefix(r.suffix, ".svc")), false
	}
	parts := strings.Split(strings.TrimSuffix(name, r.suffix), ".")
	if len(parts) != 2 {
		return nil, true, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	service, err := r.client.CoreV1().Services(parts[1]).Get(ctx, parts[0], metav1.GetOptions{})
	if err != nil {
		return nil, true, false
	}
	ip = net.ParseIP(service.Spec.ClusterIP).To4()
	return ip, true, ip != nil
}

func (r *resolver) answer(query []byte) ([]byte, error) {
	var parser dnsmessage.Parser
	header, err := parser.Start(query)
	if err != nil {
		return nil, err
	}
	question, err := parser.Question()
	if err != nil {
		return nil, err
	}
	name := strings.ToLower(question.Name.String())
	ip, inCluster, found := r.clusterIP(name)

	reply := dnsmessage.Header{ID: header.ID, Response: true, Authoritative: inCluster, RecursionDesired: header.RecursionDesired}
	switch {
	case !inCluster:
		kind := "outside the cluster"
		if strings.HasSuffix(name, probeSuffix) {
			kind = "probe, outside the cluster"
		}
		log.Printf("%s: %s (%s), refused", kind, name, question.Type)
		reply.RCode = dnsmessage.RCodeRefused
	case !found:
		reply.RCode = dnsmessage.RCodeNameError
	}
	builder := dnsmessage.NewBuilder(make([]byte, 0, 512), reply)
	builder.EnableCompression()
	if err := builder.StartQuestions(); err != nil {
		return nil, err
	}
	if err := builder.Question(question); err != nil {
		return nil, err
	}
	if found && question.Type == dnsmessage.TypeA {
		if err := builder.StartAnswers(); err != nil {
			return nil, err
		}
		var a dnsmessage.AResource
		copy(a.A[:], ip)
		resource := dnsmessage.ResourceHeader{Name: question.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: ttl}
		if err := builder.AResource(resource, a); err != nil {
			return nil, err
		}
	}
	return builder.Finish()
}

func main() {
	listen := flag.String("listen", "", "UDP address to answer on (the node's address, port 53)")
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the API server whose Services it answers for")
	domain := flag.String("domain", "cluster.local", "the cluster's DNS domain (the kubelet's clusterDomain)")
	flag.Parse()

	config, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		log.Fatalf("kubeconfig %s: %v", *kubeconfig, err)
	}
	r := &resolver{client: kubernetes.NewForConfigOrDie(config), suffix: ".svc." + strings.Trim(*domain, ".") + "."}
	conn, err := net.ListenPacket("udp", *listen)
	if err != nil {
		log.Fatalf("listen %s: %v", *listen, err)
	}
	log.Printf("answering for Services of %s on %s", *domain, *listen)
	buffer := make([]byte, 1500)
	for {
		n, from, err := conn.ReadFrom(buffer)
		if err != nil {
			log.Fatalf("read: %v", err)
		}
		query := append([]byte(nil), buffer[:n]...)
		go func() {
			reply, err := r.answer(query)
			if err != nil {
				log.Printf("a query from %s: %v", from, err)
				return
			}
			if _, err := conn.WriteTo(reply, from); err != nil {
				log.Printf("reply to %s: %v", from, err)
			}
		}()
	}
}
