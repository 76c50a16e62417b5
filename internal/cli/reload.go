package cli

import (
	"context"
	"crypto/tls"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/blossom-ledger/blossom/internal/transport"
)

// sighupReloadKey marks a context (withSIGHUPReload).
type sighupReloadKey struct{}

// withSIGHUPReload marks ctx as the run of one node by its own command
// (blossom peer, gateway, node): runPeer and runGateway then reload their
// certificate on SIGHUP. blossom up, which runs a development consortium in
// one process, does not mark it and keeps SIGHUP's default effect (a
// terminal hangup ends it).
func withSIGHUPReload(ctx context.Context) context.Context {
	return context.WithValue(ctx, sighupReloadKey{}, true)
}

// reloadOnSIGHUP calls reload on every SIGHUP the process receives until
// ctx ends or stop is called (after which SIGHUP has its default effect
// again). SIGHUP is registered when it returns. It does nothing unless ctx
// comes from withSIGHUPReload.
func reloadOnSIGHUP(ctx context.Context, reload func()) (stop func()) {
	if ctx.Value(sighupReloadKey{}) == nil {
		return func() {}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-sig:
				reload()
			}
		}
	}()
	return func() {
		signal.Stop(sig)
		cancel()
		<-done
	}
}

// logReload reads the node's certificate and key files again and hands
// them to swap (a node's ReloadCertificate). A refusal is logged with its
// reason and the node keeps its current certificate; neither outcome logs
// key material.
func logReload(log *slog.Logger, swap func(tls.Certificate) error, certPath, keyPath string) {
	next, err := transport.LoadCertificateFiles(certPath, keyPath)
	if err == nil {
		err = swap(next)
	}
	if err != nil {
		log.Error("certificate reload refused; keeping the current certificate", "cert", certPath, "error", err)
		return
	}
	log.Info("certificate reloaded", "cert", certPath, "serial", next.Leaf.SerialNumber.Text(16),
		"notAfter", next.Leaf.NotAfter.UTC().Format(time.RFC3339))
}
