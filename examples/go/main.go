// Command chat is a multi-turn chat with ringlm from Go.
//
//	export PKG_CONFIG_PATH=<ringlm prefix>/lib/pkgconfig LD_LIBRARY_PATH=<ringlm prefix>/lib
//	cd examples/go && go run . [-model PATH] [-cp N] [-max-tokens N] [-system TEXT]
//
// One user message per line on stdin; each reply streams to stdout as it is
// generated, followed by a line of statistics on stderr. Ctrl-C cancels the
// reply in progress (the session stays usable); Ctrl-D ends the chat. Every
// turn after the first prefills only its new message: the earlier turns stay
// in the session's KV cache.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/ringlm/ringlm/bindings/go/ringlm"
)

func main() {
	home, _ := os.UserHomeDir()
	defaultModel := os.Getenv("RINGLM_MODEL")
	if defaultModel == "" {
		defaultModel = filepath.Join(home, ".cache/ringlm/models/SmolLM2-135M-Instruct.Q4_1.gguf")
	}
	model := flag.String("model", defaultModel, "model file (GGUF)")
	cp := flag.Int("cp", 1, "context-parallel ranks")
	maxTokens := flag.Int("max-tokens", 128, "most tokens per reply")
	system := flag.String("system", "", "system prompt")
	flag.Parse()

	if err := run(*model, *cp, *maxTokens, *system); err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(1)
	}
}

func run(model string, cp, maxTokens int, system string) error {
	engine, err := ringlm.NewEngine(ringlm.EngineConfig{ModelPath: model, WorldSize: cp})
	if err != nil {
		return err
	}
	defer engine.Close()
	session, err := engine.NewSession(ringlm.SessionConfig{SystemPrompt: system})
	if err != nil {
		return err
	}
	defer session.Close()

	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		line := strings.TrimSpace(in.Text())
		if line == "" {
			continue
		}
		// Ctrl-C cancels this reply only.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		stream, err := session.Chat(ctx, ringlm.ChatRequest{
			Messages:  []ringlm.Message{ringlm.User(line)},
			MaxTokens: maxTokens,
		})
		if err != nil {
			stop()
			return err
		}
		for stream.Next() {
			if ev := stream.Event(); ev.Kind == ringlm.EventText {
				fmt.Print(ev.Text)
			}
		}
		fmt.Println()
		resp, err := stream.Response()
		stop()
		if err != nil && ctx.Err() == nil {
			return err
		}
		st := resp.Stats
		fmt.Fprintf(os.Stderr, "[%d new tokens prefilled, %d reused, %d generated at %.1f tok/s, %d rank(s), %s]\n",
			st.NewTokens, st.CachedTokens, st.GeneratedTokens, st.DecodeTokS, st.WorldSize, resp.FinishReason)
	}
	return in.Err()
}
