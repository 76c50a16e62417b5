package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/blossom-ledger/blossom/internal/fsutil"
	"github.com/blossom-ledger/blossom/internal/gateway"
	"github.com/blossom-ledger/blossom/internal/identity"
	"github.com/blossom-ledger/blossom/internal/pki"
	"github.com/blossom-ledger/blossom/internal/txn"
)

// Bounds on blossom tx input.
const (
	maxTxArgs         = 256
	maxTxTransient    = 64
	maxTxFlagJSON     = 4 << 20
	maxCredentialFile = 1 << 20
	maxDevnetFile     = 4 << 20
)

// Exit codes of blossom tx (DESIGN §10).
const (
	exitUsage       = 1 // usage, auth or network error
	exitRefused     = 2 // chaincode or endorsement error
	exitInvalidated = 3 // committed but invalidated
)

type txFlags struct {
	devnet, member, user         string
	gatewayURL, cert, key, ca    string
	channel, chaincode, function string
	args, transient, endorsers   string
	init                         bool
	timeout                      time.Duration
}

func newTxCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tx",
		Short: "Submit or evaluate a chaincode transaction through a member's gateway (client-signed)",
	}
	cmd.AddCommand(newTxSubcommand("submit", true), newTxSubcommand("evaluate", false))
	return cmd
}

func newTxSubcommand(name string, submit bool) *cobra.Command {
	var f txFlags
	cmd := &cobra.Command{
		Use:   name,
		Short: map[bool]string{true: "Submit a transaction and wait for its commit", false: "Evaluate a function without submitting it"}[submit],
		Long: `Signs the proposal and the envelope locally with the user's key and relays
them through the member's gateway, authenticated with the user's client
certificate. Prints one JSON object: {"txId","status","block","result"} for
submit, {"result"} for evaluate. Exit 0 for VALID (or a successful evaluate),
3 when the transaction was invalidated, 2 on a chaincode or endorsement error
(the chaincode's message on the first line of stderr), 1 otherwise.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTx(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), &f, submit)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.devnet, "devnet", "", "development consortium directory (reads DIR/devnet.json)")
	fl.StringVar(&f.member, "member", "", "member name in devnet.json (with --devnet)")
	fl.StringVar(&f.user, "user", "", "user name in devnet.json (with --devnet)")
	fl.StringVar(&f.gatewayURL, "gateway", "", "gateway URL (https://host:port), instead of --devnet")
	fl.StringVar(&f.cert, "cert", "", "the user's certificate (PEM), with --gateway")
	fl.StringVar(&f.key, "key", "", "the user's private key (PEM, mode 0600), with --gateway")
	fl.StringVar(&f.ca, "cacert", "", "CA bundle that verifies the gateway (PEM), with --gateway")
	fl.StringVar(&f.channel, "channel", "", "channel")
	fl.StringVar(&f.chaincode, "chaincode", "", "chaincode")
	fl.StringVar(&f.function, "function", "", "function, contract:Function")
	fl.StringVar(&f.args, "args", "", "arguments, a JSON array (a string is its UTF-8 bytes, other values their compact JSON)")
	fl.StringVar(&f.transient, "transient", "", "transient data, a JSON object (values encoded as --args elements)")
	fl.StringVar(&f.endorsers, "endorsers", "", "endorsing members, comma-separated MSP IDs (default: the gateway plans them)")
	if submit {
		fl.BoolVar(&f.init, "init", false, "mark the call that initialises a chaincode whose definition requires it (--init-required)")
	}
	fl.DurationVar(&f.timeout, "timeout", 2*time.Minute, "overall time limit")
	return cmd
}

// usageError is an exit-1 error.
func usageError(format string, a ...any) error {
	return &ExitError{Code: exitUsage, Err: fmt.Errorf(format, a...)}
}

// encodeJSONValue encodes one --args element or --transient value: a JSON
// string as its UTF-8 bytes, any other value as its compact JSON text.
func encodeJSONValue(raw json.RawMessage) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return []byte(s), nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// parseTxArgs decodes --args.
func parseTxArgs(s string) ([][]byte, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	if len(s) > maxTxFlagJSON {
		return nil, fmt.Errorf("--args is longer than %d bytes", maxTxFlagJSON)
	}
	var elems []json.RawMessage
	if err := strictUnmarshal([]byte(s), &elems); err != nil {
		return nil, fmt.Errorf("--args must be a JSON array: %w", err)
	}
	if len(elems) > maxTxArgs {
		return nil, fmt.Errorf("--args has more than %d elements", maxTxArgs)
	}
	out := make([][]byte, len(elems))
	for i, e := range elems {
		b, err := encodeJSONValue(e)
		if err != nil {
			return nil, fmt.Errorf("--args element %d: %w", i, err)
		}
		out[i] = b
	}
	return out, nil
}

// parseTxTransient decodes --transient.
func parseTxTransient(s string) (map[string][]byte, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	if len(s) > maxTxFlagJSON {
		return nil, fmt.Errorf("--transient is longer than %d bytes", maxTxFlagJSON)
	}
	var m map[string]json.RawMessage
	if err := strictUnmarshal([]byte(s), &m); err != nil || m == nil {
		if err == nil {
			err = errors.New("null")
		}
		return nil, fmt.Errorf("--transient must be a JSON object: %w", err)
	}
	if len(m) > maxTxTransient {
		return nil, fmt.Errorf("--transient has more than %d entries", maxTxTransient)
	}
	out := make(map[string][]byte, len(m))
	for k, v := range m {
		b, err := encodeJSONValue(v)
		if err != nil {
			return nil, fmt.Errorf("--transient %q: %w", k, err)
		}
		out[k] = b
	}
	return out, nil
}

// strictUnmarshal decodes exactly one JSON value.
func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	return nil
}

// resultJSON is the result field: the payload parsed as JSON if it
// parses, else the string, null if empty.
func resultJSON(payload []byte) json.RawMessage {
	if len(payload) == 0 {
		return json.RawMessage("null")
	}
	if json.Valid(payload) {
		var buf bytes.Buffer
		if json.Compact(&buf, payload) == nil {
			return buf.Bytes()
		}
	}
	b, _ := json.Marshal(string(payload))
	return b
}

// txTarget is where and as whom blossom tx acts.
type txTarget struct {
	url           string
	certFile      string
	keyFile       string
	caFile        string
	commitMembers []string // with --devnet: every member
}

func (f *txFlags) target() (*txTarget, error) {
	if f.devnet != "" {
		if f.gatewayURL != "" || f.cert != "" || f.key != "" || f.ca != "" {
			return nil, errors.New("--devnet excludes --gateway, --cert, --key and --cacert")
		}
		if f.member == "" || f.user == "" {
			return nil, errors.New("--devnet needs --member and --user")
		}
		dn, err := ReadDevnet(f.devnet)
		if err != nil {
			return nil, err
		}
		m, u, err := dn.User(f.member, f.user)
		if err != nil {
			return nil, err
		}
		if !dn.Ready {
			return nil, fmt.Errorf("the devnet in %s is not ready", f.devnet)
		}
		t := &txTarget{url: m.Gateway, certFile: u.Cert, keyFile: u.Key, caFile: dn.CABundle}
		for _, o := range dn.Members {
			t.commitMembers = append(t.commitMembers, o.MSPID)
		}
		return t, nil
	}
	if f.member != "" || f.user != "" {
		return nil, errors.New("--member and --user need --devnet")
	}
	if f.gatewayURL == "" || f.cert == "" || f.key == "" || f.ca == "" {
		return nil, errors.New("give --devnet DIR --member M --user U, or --gateway URL --cert FILE --key FILE --cacert FILE")
	}
	return &txTarget{url: f.gatewayURL, certFile: f.cert, keyFile: f.key, caFile: f.ca}, nil
}

// remote loads the credentials and builds the gateway client.
func (t *txTarget) remote() (*gateway.Remote, error) {
	if !strings.HasPrefix(t.url, "https://") {
		return nil, fmt.Errorf("gateway URL %q is not https", t.url)
	}
	certPEM, err := fsutil.ReadFileBounded(t.certFile, maxCredentialFile)
	if err != nil {
		return nil, err
	}
	chain, err := pki.ParseCertificatesPEM(certPEM)
	if err != nil || len(chain) == 0 {
		return nil, fmt.Errorf("%s: no certificate", t.certFile)
	}
	key, err := pki.ReadPrivateKeyFile(t.keyFile)
	if err != nil {
		return nil, err
	}
	signer, err := identity.NewKeySigner(key, chain[0])
	if err != nil {
		return nil, fmt.Errorf("%s and %s: %w", t.certFile, t.keyFile, err)
	}
	caPEM, err := fsutil.ReadFileBounded(t.caFile, maxCredentialFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("%s: no CA certificate", t.caFile)
	}
	tlsCert := tls.Certificate{PrivateKey: key, Leaf: chain[0]}
	for _, c := range chain {
		tlsCert.Certificate = append(tlsCert.Certificate, c.Raw)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		MinVersion: tls.VersionTLS13, RootCAs: pool, Certificates: []tls.Certificate{tlsCert},
	}}}
	return &gateway.Remote{URL: strings.TrimRight(t.url, "/"), HTTP: hc, Signer: signer}, nil
}

func runTx(ctx context.Context, stdout, stderr io.Writer, f *txFlags, submit bool) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if f.channel == "" || f.chaincode == "" || f.function == "" {
		return usageError("--channel, --chaincode and --function are required")
	}
	args, err := parseTxArgs(f.args)
	if err != nil {
		return usageError("%v", err)
	}
	transient, err := parseTxTransient(f.transient)
	if err != nil {
		return usageError("%v", err)
	}
	var endorsers []string
	if f.endorsers != "" {
		for _, e := range strings.Split(f.endorsers, ",") {
			if e = strings.TrimSpace(e); e == "" {
				return usageError("--endorsers has an empty MSP ID")
			}
			endorsers = append(endorsers, e)
		}
	}
	target, err := f.target()
	if err != nil {
		return usageError("%v", err)
	}
	remote, err := target.remote()
	if err != nil {
		return usageError("%v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	req := txn.Request{ChannelID: f.channel, Chaincode: f.chaincode, Function: f.function, Args: args, Transient: transient, Init: f.init}
	if !submit {
		payload, err := remote.Evaluate(ctx, req, endorsers)
		if err != nil {
			return txFailure(stderr, err)
		}
		return writeTxJSON(stdout, struct {
			Result json.RawMessage `json:"result"`
		}{resultJSON(payload)})
	}
	res, err := remote.Submit(ctx, req, endorsers, target.commitMembers)
	if err != nil {
		return txFailure(stderr, err)
	}
	if err := writeTxJSON(stdout, struct {
		TxID   string          `json:"txId"`
		Status string          `json:"status"`
		Block  uint64          `json:"block"`
		Result json.RawMessage `json:"result"`
	}{res.TxID, res.Status, res.Block, resultJSON(res.Result)}); err != nil {
		return err
	}
	if res.Status != "VALID" {
		return &ExitError{Code: exitInvalidated, Err: fmt.Errorf("transaction %s invalidated: %s", res.TxID, res.Status)}
	}
	return nil
}

func writeTxJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// txFailure maps a gateway error to the exit code; a chaincode or
// endorsement error puts the message verbatim on stderr's first line.
func txFailure(stderr io.Writer, err error) error {
	var re *gateway.RemoteError
	if errors.As(err, &re) {
		switch {
		case re.Code == "CHAINCODE_ERROR":
			fmt.Fprintln(stderr, re.Message)
			return &ExitError{Code: exitRefused, Err: errors.New("the chaincode refused the transaction")}
		case re.Code == "ENDORSEMENT_MISMATCH":
			fmt.Fprintln(stderr, re.Message)
			return &ExitError{Code: exitRefused, Err: errors.New("endorsement failed")}
		}
		return &ExitError{Code: exitUsage, Err: re}
	}
	if errors.Is(err, txn.ErrMismatch) {
		fmt.Fprintln(stderr, err.Error())
		return &ExitError{Code: exitRefused, Err: errors.New("endorsement failed")}
	}
	return &ExitError{Code: exitUsage, Err: err}
}
