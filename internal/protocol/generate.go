package protocol

// Regenerate the protobuf and gRPC code in pb/ after editing proto/:
//
//	go generate ./internal/protocol
//
// Every tool is fetched as a Go module at a pinned version (no protoc binary
// needed): buf 1.75.0, protoc-gen-go v1.36.12, protoc-gen-go-grpc 1.6.2.
//go:generate sh -c "cd proto && go run github.com/bufbuild/buf/cmd/buf@v1.75.0 generate"
