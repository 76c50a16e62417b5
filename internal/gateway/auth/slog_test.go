package auth

import (
	"io"
	"log/slog"
)

func slogDefault() *slog.Logger { return slog.Default() }

func setSlogDefault(w io.Writer) {
	slog.SetDefault(slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug})))
}

func restoreSlogDefault(l *slog.Logger) { slog.SetDefault(l) }
