package ringlm_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringlm/ringlm/bindings/go/ringlm"
)

// A three-turn chat whose third turn refers to the first one.
var turns = []string{"My cat is called Tom.", "What is 2+2?", "What is my cat called?"}

const maxTokens = 8

func modelPath(t testing.TB) string {
	p := os.Getenv("RINGLM_MODEL")
	if p == "" {
		home, _ := os.UserHomeDir()
		p = filepath.Join(home, ".cache/ringlm/models/SmolLM2-135M-Instruct.Q4_1.gguf")
	}
	if _, err := os.Stat(p); err != nil {
		t.Skipf("model %s not found (scripts/fetch_model.sh, or set RINGLM_MODEL)", p)
	}
	return p
}

var (
	sharedOnce sync.Once
	shared     *ringlm.Engine
	sharedErr  error
)

// engine is the world-size-1 engine the tests share (closed by TestMain).
func engine(t testing.TB) *ringlm.Engine {
	path := modelPath(t)
	sharedOnce.Do(func() { shared, sharedErr = newEngine(path, 1) })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

func newEngine(path string, worldSize int) (*ringlm.Engine, error) {
	return ringlm.NewEngine(ringlm.EngineConfig{ModelPath: path, WorldSize: worldSize, ThreadsPerRank: 2})
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.Close()
	}
	os.Exit(code)
}

func ask(t testing.TB, s *ringlm.Session, text string, n int) *ringlm.ChatResponse {
	t.Helper()
	stream, err := s.Chat(context.Background(), ringlm.ChatRequest{Messages: []ringlm.Message{ringlm.User(text)}, MaxTokens: n})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Response()
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

type turn struct {
	resp   *ringlm.ChatResponse
	before int64 // history tokens before the turn
}

func runChat(t testing.TB, e *ringlm.Engine) []turn {
	s, err := e.NewSession(ringlm.SessionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out []turn
	for _, text := range turns {
		tr, err := s.Transcript()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, turn{ask(t, s, text, maxTokens), tr.TokenCount})
	}
	return out
}

func TestVersion(t *testing.T) {
	if ringlm.Version() != "0.1.0" || ringlm.ABIVersion() != 0 {
		t.Fatalf("version %s, ABI %d", ringlm.Version(), ringlm.ABIVersion())
	}
}

func TestThreeTurnsReuseTheKV(t *testing.T) {
	got := runChat(t, engine(t))
	for k, tr := range got {
		st := tr.resp.Stats
		if st.WorldSize != 1 || st.GeneratedTokens != int64(len(tr.resp.Tokens)) {
			t.Errorf("turn %d: stats %+v", k+1, st)
		}
		// P: the whole history was reused; T: only the new message was prefilled.
		if st.CachedTokens != tr.before {
			t.Errorf("turn %d: P = %d, history %d", k+1, st.CachedTokens, tr.before)
		}
		if k > 0 && (st.CachedTokens == 0 || st.NewTokens <= 0 || st.NewTokens >= tr.before) {
			t.Errorf("turn %d: P = %d, T = %d", k+1, st.CachedTokens, st.NewTokens)
		}
	}
	if third := got[2].resp.Text; !strings.Contains(third, "Tom") {
		t.Errorf("turn 3 does not recall turn 1: %q", third)
	}
}

func TestStreamEventsThenResponse(t *testing.T) {
	s, err := engine(t).NewSession(ringlm.SessionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stream, err := s.Chat(context.Background(), ringlm.ChatRequest{Messages: []ringlm.Message{ringlm.User(turns[0])}, MaxTokens: maxTokens})
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	var tokens []int32
	var progress ringlm.Event
	for stream.Next() {
		ev := stream.Event()
		switch ev.Kind {
		case ringlm.EventText:
			text.WriteString(ev.Text)
			tokens = append(tokens, ev.Tokens...)
		case ringlm.EventProgress:
			progress = ev
		}
	}
	resp, err := stream.Response()
	if err != nil || stream.Err() != nil {
		t.Fatal(err, stream.Err())
	}
	if progress.PrefillTotal == 0 || progress.PrefillDone != progress.PrefillTotal {
		t.Errorf("progress %+v", progress)
	}
	if text.String() != resp.Text || !reflect.DeepEqual(tokens, resp.Tokens) {
		t.Errorf("events %q %v, response %q %v", text.String(), tokens, resp.Text, resp.Tokens)
	}
}

func TestTwoCPRanksGiveIdenticalGreedyTokens(t *testing.T) {
	one := runChat(t, engine(t))
	e2, err := newEngine(modelPath(t), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Close()
	info, err := e2.Info()
	if err != nil || info.WorldSize != 2 || info.KVCacheType != "f32" || info.WeightType != "f32" {
		t.Fatalf("info %+v, %v", info, err)
	}
	two := runChat(t, e2)
	for k := range one {
		if !reflect.DeepEqual(one[k].resp.Tokens, two[k].resp.Tokens) {
			t.Errorf("turn %d: 1 rank %v, 2 ranks %v", k+1, one[k].resp.Tokens, two[k].resp.Tokens)
		}
		st := two[k].resp.Stats
		if st.WorldSize != 2 || len(st.KVTokens) != 2 || st.KVTokens[0] == 0 || st.KVTokens[1] == 0 ||
			len(st.KVBytes) != 2 || st.KVBytes[0] == 0 || st.KVBytes[1] == 0 {
			t.Errorf("turn %d: stats %+v", k+1, st)
		}
		if st.CachedTokens != two[k].before {
			t.Errorf("turn %d: P = %d, history %d", k+1, st.CachedTokens, two[k].before)
		}
	}
}

func TestCancelFromAnotherGoroutine(t *testing.T) {
	s, err := engine(t).NewSession(ringlm.SessionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stream, err := s.Chat(context.Background(), ringlm.ChatRequest{
		Messages: []ringlm.Message{ringlm.User("Tell me a long story about a dragon.")}, MaxTokens: 200})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	started := false
	for stream.Next() {
		if stream.Event().Kind == ringlm.EventText && !started {
			started = true
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.Cancel(); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	resp, err := stream.Response()
	if err != nil {
		t.Fatal(err)
	}
	if resp.FinishReason != ringlm.FinishCancelled || resp.Stats.GeneratedTokens == 0 || resp.Stats.GeneratedTokens >= 200 {
		t.Fatalf("finish %s after %d tokens", resp.FinishReason, resp.Stats.GeneratedTokens)
	}
	if next := ask(t, s, "Hi", 2); next.FinishReason == ringlm.FinishCancelled || next.Stats.GeneratedTokens == 0 {
		t.Fatalf("after cancel: %+v", next)
	}
}

func TestContextCancelsTheRequest(t *testing.T) {
	s, err := engine(t).NewSession(ringlm.SessionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := s.Chat(ctx, ringlm.ChatRequest{Messages: []ringlm.Message{ringlm.User("Tell me a long story.")}, MaxTokens: 200})
	if err != nil {
		t.Fatal(err)
	}
	for stream.Next() {
		if stream.Event().Kind == ringlm.EventText {
			cancel()
		}
	}
	resp, err := stream.Response()
	if !errors.Is(err, context.Canceled) || resp == nil || resp.FinishReason != ringlm.FinishCancelled {
		t.Fatalf("response %+v, error %v", resp, err)
	}
	// A context that is already done starts nothing.
	if _, err := s.Chat(ctx, ringlm.ChatRequest{Messages: []ringlm.Message{ringlm.User("Hi")}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("done context: %v", err)
	}
	// A deadline works the same way; the session stays usable.
	dctx, dcancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer dcancel()
	stream, err = s.Chat(dctx, ringlm.ChatRequest{Messages: []ringlm.Message{ringlm.User("Tell me another long story.")}, MaxTokens: 400})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err = stream.Response(); !errors.Is(err, context.DeadlineExceeded) || resp.FinishReason != ringlm.FinishCancelled {
		t.Fatalf("deadline: %+v, %v", resp, err)
	}
	ask(t, s, "Hi", 2)
}

func TestClosingAStreamEarlyCancelsIt(t *testing.T) {
	s, err := engine(t).NewSession(ringlm.SessionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stream, err := s.Chat(context.Background(), ringlm.ChatRequest{Messages: []ringlm.Message{ringlm.User("Tell me a long story.")}, MaxTokens: 200})
	if err != nil {
		t.Fatal(err)
	}
	stream.Next()
	if err := stream.Close(); err != nil {
		t.Fatal(err)
	}
	if resp, err := stream.Response(); err != nil || resp.FinishReason != ringlm.FinishCancelled {
		t.Fatalf("%+v %v", resp, err)
	}
	ask(t, s, "Hi", 2)
}

func TestWeightTypes(t *testing.T) {
	if _, err := ringlm.NewEngine(ringlm.EngineConfig{ModelPath: modelPath(t), WeightType: "F16"}); err == nil {
		t.Fatal("an engine with weight type F16 was created")
	}
	e, err := ringlm.NewEngine(ringlm.EngineConfig{ModelPath: modelPath(t), ThreadsPerRank: 2, WeightType: "BF16"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	info, err := e.Info()
	if err != nil || info.WeightType != "bf16" {
		t.Fatalf("info %+v, %v", info, err)
	}
}

func TestMalformedRequestsAreErrors(t *testing.T) {
	e := engine(t)
	s, err := e.NewSession(ringlm.SessionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	cases := []struct {
		name string
		json string
		want error
	}{
		{"not JSON", "{not json", ringlm.ErrCorruptData},
		{"unknown role", `{"messages": [{"role": "Nobody", "content": "x"}]}`, ringlm.ErrCorruptData},
		{"no messages", `{"messages": []}`, ringlm.ErrInvalidArgument},
		{"negative max_tokens", `{"messages": [{"content": "x"}], "max_tokens": -1}`, ringlm.ErrInvalidArgument},
		{"empty", ``, ringlm.ErrCorruptData},
	}
	for _, c := range cases {
		_, err := s.ChatJSON(ctx, []byte(c.json))
		var re *ringlm.Error
		if !errors.Is(err, c.want) || !errors.As(err, &re) || re.Message == "" {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
	info, err := e.Info()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Generate(ctx, ringlm.GenerateRequest{Tokens: []int32{int32(info.Model.Vocab + 5)}, MaxTokens: 1}); !errors.Is(err, ringlm.ErrInvalidArgument) {
		t.Errorf("token outside the vocabulary: %v", err)
	}
	if _, err := e.Detokenize([]int32{-1}); !errors.Is(err, ringlm.ErrInvalidArgument) {
		t.Errorf("detokenize -1: %v", err)
	}
	// In flight: a second request and the transcript are refused.
	stream, err := s.Chat(ctx, ringlm.ChatRequest{Messages: []ringlm.Message{ringlm.User("Count to ten.")}, MaxTokens: 4})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Chat(ctx, ringlm.ChatRequest{Messages: []ringlm.Message{ringlm.User("again")}}); !errors.Is(err, ringlm.ErrFailedPrecondition) {
		t.Errorf("second request in flight: %v", err)
	}
	if _, err := stream.Response(); err != nil {
		t.Fatal(err)
	}
	ask(t, s, "Hi", 2) // still usable
}

func TestClosedHandlesAreErrors(t *testing.T) {
	path := modelPath(t)
	e, err := newEngine(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.NewSession(ringlm.SessionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); !errors.Is(err, ringlm.ErrNotFound) {
		t.Errorf("second close: %v", err)
	}
	if _, err := s.Chat(context.Background(), ringlm.ChatRequest{Messages: []ringlm.Message{ringlm.User("x")}}); !errors.Is(err, ringlm.ErrNotFound) {
		t.Errorf("chat on a closed session: %v", err)
	}
	if err := s.Cancel(); !errors.Is(err, ringlm.ErrNotFound) {
		t.Errorf("cancel on a closed session: %v", err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.NewSession(ringlm.SessionConfig{}); !errors.Is(err, ringlm.ErrNotFound) {
		t.Errorf("session on a closed engine: %v", err)
	}
	if _, err := e.Tokenize("x", false); !errors.Is(err, ringlm.ErrNotFound) {
		t.Errorf("tokenize on a closed engine: %v", err)
	}
	// Engines that cannot start.
	if _, err := newEngine(filepath.Join(t.TempDir(), "missing.gguf"), 1); !errors.Is(err, ringlm.ErrNotFound) {
		t.Errorf("missing model: %v", err)
	}
	if _, err := ringlm.NewEngine(ringlm.EngineConfig{ModelPath: path, WorldSize: -2}); !errors.Is(err, ringlm.ErrInvalidArgument) {
		t.Errorf("world size -2: %v", err)
	}
	if _, err := ringlm.NewEngineJSON([]byte("[1, 2")); !errors.Is(err, ringlm.ErrCorruptData) {
		t.Errorf("bad JSON: %v", err)
	}
}

// continueAlike checks that b (restored or forked from a) holds a's
// transcript and answers the next turn as a does, from a KV of its own.
func continueAlike(t *testing.T, a, b *ringlm.Session) {
	t.Helper()
	ta, _ := a.Transcript()
	tb, err := b.Transcript()
	if err != nil || !reflect.DeepEqual(ta, tb) {
		t.Fatalf("transcripts %+v / %+v (%v)", ta, tb, err)
	}
	ra, rb := ask(t, a, turns[2], maxTokens), ask(t, b, turns[2], maxTokens)
	if !reflect.DeepEqual(ra.Tokens, rb.Tokens) || rb.Stats.CachedTokens != ra.Stats.CachedTokens ||
		rb.Stats.CachedTokens == 0 || rb.Stats.Rebuilt {
		t.Fatalf("original %+v, other %+v", ra, rb)
	}
}

func TestSaveAndRestore(t *testing.T) {
	e := engine(t)
	file := filepath.Join(t.TempDir(), "chat.session")
	a, err := e.NewSession(ringlm.SessionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ask(t, a, turns[0], maxTokens)
	if err := a.Save(file); err != nil {
		t.Fatal(err)
	}
	b, err := e.RestoreSession(file)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	continueAlike(t, a, b)
	if _, err := e.RestoreSession(filepath.Join(t.TempDir(), "nope")); !errors.Is(err, ringlm.ErrNotFound) {
		t.Errorf("missing file: %v", err)
	}
	junk := filepath.Join(t.TempDir(), "junk")
	os.WriteFile(junk, []byte(strings.Repeat("not a session file ", 20)), 0o644)
	if _, err := e.RestoreSession(junk); !errors.Is(err, ringlm.ErrCorruptData) {
		t.Errorf("junk file: %v", err)
	}
}

func TestRewindRegeneratesFromTheCachedPrefix(t *testing.T) {
	e := engine(t)
	s, err := e.NewSession(ringlm.SessionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ask(t, s, turns[0], maxTokens)
	first := ask(t, s, turns[2], maxTokens)
	before, _ := s.Transcript()
	if err := s.Rewind(2); err != nil {
		t.Fatal(err)
	}
	after, _ := s.Transcript()
	if !reflect.DeepEqual(after.Messages, before.Messages[:2]) {
		t.Fatalf("rewound transcript %+v, before %+v", after, before)
	}
	again := ask(t, s, turns[2], maxTokens)
	if !reflect.DeepEqual(again.Tokens, first.Tokens) ||
		again.Stats.CachedTokens < first.Stats.CachedTokens || first.Stats.CachedTokens == 0 {
		t.Fatalf("first %+v, again %+v", first, again)
	}
	if err := s.Rewind(5); !errors.Is(err, ringlm.ErrOutOfRange) {
		t.Errorf("rewind beyond the transcript: %v", err)
	}
	if err := s.RewindTokens(0); err != nil {
		t.Fatal(err)
	}
	if tr, _ := s.Transcript(); tr.TokenCount != 0 {
		t.Errorf("token count after RewindTokens(0): %d", tr.TokenCount)
	}
}

func TestForkContinuesOnItsOwnKV(t *testing.T) {
	e := engine(t)
	a, err := e.NewSession(ringlm.SessionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ask(t, a, turns[0], maxTokens)
	b, err := a.Fork()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	continueAlike(t, a, b)
	a.Close()
	if tb, _ := b.Transcript(); len(tb.Messages) != 4 {
		t.Errorf("fork's transcript after the original closed: %+v", tb)
	}
}

func TestManySessionsFromManyGoroutines(t *testing.T) {
	e := engine(t)
	const n = 6
	type result struct{ first, second *ringlm.ChatResponse }
	results := make([]result, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s, err := e.NewSession(ringlm.SessionConfig{})
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			for k, text := range []string{"Say the number " + string(rune('0'+i%3)) + ".", "Thanks."} {
				stream, err := s.Chat(context.Background(), ringlm.ChatRequest{Messages: []ringlm.Message{ringlm.User(text)}, MaxTokens: 3 - k})
				if err != nil {
					errs <- err
					return
				}
				resp, err := stream.Response()
				if err != nil {
					errs <- err
					return
				}
				if k == 0 {
					results[i].first = resp
				} else {
					results[i].second = resp
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i, r := range results {
		if r.first.Stats.GeneratedTokens == 0 || r.second.Stats.CachedTokens == 0 {
			t.Errorf("session %d: %+v / %+v", i, r.first.Stats, r.second.Stats)
		}
		if !reflect.DeepEqual(r.first.Tokens, results[i%3].first.Tokens) {
			t.Errorf("session %d: greedy tokens differ from session %d", i, i%3)
		}
	}
}

func TestTokenizeRoundTrip(t *testing.T) {
	e := engine(t)
	ids, err := e.Tokenize("Hello, world!", false)
	if err != nil || len(ids) == 0 {
		t.Fatal(ids, err)
	}
	text, err := e.Detokenize(ids)
	if err != nil || text != "Hello, world!" {
		t.Fatalf("%q %v", text, err)
	}
}

func TestGenerateFromRawTokens(t *testing.T) {
	e := engine(t)
	ids, err := e.Tokenize("The capital of France is", false)
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.NewSession(ringlm.SessionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	stream, err := s.Generate(context.Background(), ringlm.GenerateRequest{Tokens: ids, MaxTokens: 3})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Response()
	if err != nil || resp.Stats.NewTokens != int64(len(ids)) || len(resp.Tokens) != 3 {
		t.Fatalf("%+v %v", resp, err)
	}
}

func TestLogprobs(t *testing.T) {
	e := engine(t)
	s, err := e.NewSession(ringlm.SessionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := s.Chat(context.Background(), ringlm.ChatRequest{
		Messages: []ringlm.Message{ringlm.User(turns[0])}, MaxTokens: maxTokens,
		TopLogprobs: 3})
	if err != nil {
		t.Fatal(err)
	}
	r, err := st.Response()
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Logprobs) != len(r.Tokens) || len(r.Tokens) == 0 {
		t.Fatalf("%d logprobs for %d tokens", len(r.Logprobs), len(r.Tokens))
	}
	for i, lp := range r.Logprobs {
		if lp.Token != r.Tokens[i] || lp.Logprob > 0 || len(lp.TopTokens) != 3 ||
			lp.TopTokens[0] != lp.Token || lp.TopLogprobs[0] < lp.TopLogprobs[2] {
			t.Errorf("token %d: %+v", i, lp)
		}
	}
	_, err = s.Chat(context.Background(), ringlm.ChatRequest{
		Messages: []ringlm.Message{ringlm.User("Hi")}, TopLogprobs: 21})
	if !errors.Is(err, ringlm.ErrInvalidArgument) {
		t.Errorf("top_logprobs 21: %v", err)
	}
}

func TestPrefixSharingBetweenSessions(t *testing.T) {
	min := int64(16)
	e, err := ringlm.NewEngine(ringlm.EngineConfig{ModelPath: modelPath(t), WorldSize: 2,
		ThreadsPerRank: 2, SharePrefixMinTokens: &min})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	system := "You answer questions about this text. " + strings.Repeat("The quick brown fox jumps. ", 8)
	a, err := e.NewSession(ringlm.SessionConfig{SystemPrompt: system})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := e.NewSession(ringlm.SessionConfig{SystemPrompt: system})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ra, rb := ask(t, a, turns[0], maxTokens), ask(t, b, turns[0], maxTokens)
	if ra.Stats.SharedTokens != 0 || rb.Stats.SharedTokens <= 16 || !reflect.DeepEqual(ra.Tokens, rb.Tokens) {
		t.Fatalf("first %+v, second %+v", ra.Stats, rb.Stats)
	}
}

func TestMultiProcessGroupThroughARendezvous(t *testing.T) {
	path := modelPath(t)
	cfg := ringlm.EngineConfig{ModelPath: path, WorldSize: 2, ThreadsPerRank: 2, CommTimeoutMS: 60000,
		Rendezvous: "file:" + t.TempDir()}
	served := make(chan error, 1)
	go func() {
		c := cfg
		c.Rank = 1
		served <- ringlm.Serve(c)
	}()
	leader, err := ringlm.NewEngine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := leader.NewSession(ringlm.SessionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	two := ask(t, ls, turns[0], maxTokens)
	// A fork copies each rank's shard on its own rank (rank 1 is another engine, over Gloo).
	fork, err := ls.Fork()
	if err != nil {
		t.Fatal(err)
	}
	continueAlike(t, ls, fork)
	fork.Close()
	ls.Close()
	if err := leader.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatal("rank 1:", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("rank 1 did not return after the leader closed")
	}
	s, err := engine(t).NewSession(ringlm.SessionConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	one := ask(t, s, turns[0], maxTokens)
	if !reflect.DeepEqual(one.Tokens, two.Tokens) || two.Stats.WorldSize != 2 {
		t.Fatalf("1 rank %v, 2 ranks through the rendezvous %v (%+v)", one.Tokens, two.Tokens, two.Stats)
	}
	if err := ringlm.Serve(ringlm.EngineConfig{ModelPath: path, WorldSize: 2, Rank: 1}); !errors.Is(err, ringlm.ErrInvalidArgument) {
		t.Fatalf("serve without a rendezvous: %v", err)
	}
}
