package ringlm

// Requests, configurations, events and responses in the JSON form of the
// ringlm schemas (capi/schemas/*.fbs), with encoding/json. Zero-valued
// fields are left out, so the schema's defaults apply to them.

// Role is who wrote a chat message.
type Role string

const (
	RoleUser      Role = "User"
	RoleAssistant Role = "Assistant"
	RoleSystem    Role = "System"
)

// CpVariant is the context-parallel ring variant of a prefill.
type CpVariant string

const (
	CpAuto   CpVariant = "Auto"
	CpPassKV CpVariant = "PassKV"
	CpPassQ  CpVariant = "PassQ"
)

// FinishReason is why generation stopped.
type FinishReason string

const (
	FinishStop        FinishReason = "Stop"        // end-of-generation token or stop string
	FinishLength      FinishReason = "Length"      // max_tokens reached
	FinishCancelled   FinishReason = "Cancelled"   // Session.Cancel or the context
	FinishContextFull FinishReason = "ContextFull" // the model's context length, or every rank's whole KV budget
)

// Message is one chat message.
type Message struct {
	Role    Role   `json:"role"`
	Content string `json:"content"`
}

// User is a user message.
func User(content string) Message { return Message{Role: RoleUser, Content: content} }

// Assistant is an assistant message.
func Assistant(content string) Message { return Message{Role: RoleAssistant, Content: content} }

// Sampling configures token sampling; the zero value is greedy decoding.
// A zero field is left out of the request, so the schema's default applies:
// RepetitionWindow 0 means the default window of 64 tokens (a penalty over
// no tokens is no penalty: leave RepetitionPenalty at 0 or 1 instead).
type Sampling struct {
	Temperature       float32 `json:"temperature,omitempty"`
	TopK              int     `json:"top_k,omitempty"`
	TopP              float32 `json:"top_p,omitempty"`
	MinP              float32 `json:"min_p,omitempty"`
	RepetitionPenalty float32 `json:"repetition_penalty,omitempty"`
	RepetitionWindow  int     `json:"repetition_window,omitempty"`
	Seed              uint64  `json:"seed,omitempty"`
}

// ChatRequest is one chat turn: its new messages and how to reply.
// MaxTokens 0 means the schema's default (256).
type ChatRequest struct {
	Messages  []Message `json:"messages"`
	Sampling  *Sampling `json:"sampling,omitempty"`
	MaxTokens int       `json:"max_tokens,omitempty"`
	Stop      []string  `json:"stop,omitempty"`
	Variant   CpVariant `json:"variant,omitempty"`
	// Each generated token's log-probability in ChatResponse.Logprobs, with
	// its TopLogprobs (0 to 20) likeliest alternatives (> 0 implies Logprobs).
	Logprobs    bool `json:"logprobs,omitempty"`
	TopLogprobs int  `json:"top_logprobs,omitempty"`
}

// GenerateRequest appends raw token ids to the session's history (no chat
// template) and generates.
type GenerateRequest struct {
	Tokens           []int32   `json:"tokens"`
	Sampling         *Sampling `json:"sampling,omitempty"`
	MaxTokens        int       `json:"max_tokens,omitempty"`
	Stop             []string  `json:"stop,omitempty"`
	Variant          CpVariant `json:"variant,omitempty"`
	WantPromptLogits bool      `json:"want_prompt_logits,omitempty"`
	Logprobs         bool      `json:"logprobs,omitempty"`     // as in ChatRequest
	TopLogprobs      int       `json:"top_logprobs,omitempty"` // as in ChatRequest
}

// EngineConfig describes the model and the rank group (engine_config.fbs).
type EngineConfig struct {
	ModelPath      string   `json:"model_path"`
	WorldSize      int      `json:"world_size,omitempty"`
	Rank           int      `json:"rank,omitempty"` // with Rendezvous: 0 (NewEngine) or 1 .. WorldSize-1 (Serve)
	Devices        []string `json:"devices,omitempty"`
	Rendezvous     string   `json:"rendezvous,omitempty"`
	Hostname       string   `json:"hostname,omitempty"`
	KVBudgetBytes  uint64   `json:"kv_budget_bytes,omitempty"`
	KVPageTokens   int64    `json:"kv_page_tokens,omitempty"`
	PrefillChunk   int64    `json:"prefill_chunk,omitempty"`
	ThreadsPerRank int      `json:"threads_per_rank,omitempty"`
	CommTimeoutMS  int64    `json:"comm_timeout_ms,omitempty"`
	// Followers leave a group whose leader says nothing for this long (0: 60000).
	LeaderTimeoutMS int64     `json:"leader_timeout_ms,omitempty"`
	CPVariant       CpVariant `json:"cp_variant,omitempty"`
	ChatTemplate    string    `json:"chat_template,omitempty"`
	KVCacheType     string    `json:"kv_cache_type,omitempty"` // "Auto", "F32" or "BF16"
	WeightType      string    `json:"weight_type,omitempty"`   // "Auto", "F32", "BF16" or "Q8_0"
	// Prefix sharing: a new session whose prompt starts with at least this
	// many tokens another session's KV holds copies that KV instead of
	// prefilling it. nil: the default (256); 0: off.
	SharePrefixMinTokens *int64 `json:"share_prefix_min_tokens,omitempty"`
}

// SessionConfig configures a new session.
type SessionConfig struct {
	SystemPrompt string `json:"system_prompt,omitempty"`
}

// TurnStats are the statistics of one request: NewTokens (T) prefilled,
// CachedTokens (P) reused from the session's KV cache.
type TurnStats struct {
	WorldSize       int      `json:"world_size"`
	Variant         string   `json:"variant"`
	DecodeVariant   string   `json:"decode_variant"`
	NewTokens       int64    `json:"new_tokens"`
	CachedTokens    int64    `json:"cached_tokens"`
	GeneratedTokens int64    `json:"generated_tokens"`
	PrefillMS       float64  `json:"prefill_ms"`
	DecodeMS        float64  `json:"decode_ms"`
	PrefillTokS     float64  `json:"prefill_tok_s"`
	DecodeTokS      float64  `json:"decode_tok_s"`
	CommHiddenMS    float64  `json:"comm_hidden_ms"`
	CommExposedMS   float64  `json:"comm_exposed_ms"`
	BytesSent       []uint64 `json:"bytes_sent"`
	KVTokens        []int64  `json:"kv_tokens"`
	Evictions       int      `json:"evictions"`
	Rebuilt         bool     `json:"rebuilt"`
	SharedTokens    int64    `json:"shared_tokens"` // of CachedTokens, copied from another session's KV
	KVBytes         []uint64 `json:"kv_bytes"`      // bytes each rank's KV store holds (all its sessions)
}

// ChatResponse is the result of a request.
type ChatResponse struct {
	Text         string         `json:"text"`
	Tokens       []int32        `json:"tokens"`
	FinishReason FinishReason   `json:"finish_reason"`
	Stats        TurnStats      `json:"stats"`
	PromptLogits []float32      `json:"prompt_logits,omitempty"`
	Logprobs     []TokenLogprob `json:"logprobs,omitempty"` // when the request asked for them
}

// TokenLogprob is a generated token's log-probability under the model's
// distribution (softmax of its logits: before temperature, penalties or
// truncation), with the likeliest alternatives at that step, most likely
// first. Natural logs.
type TokenLogprob struct {
	Token       int32     `json:"token"`
	Logprob     float32   `json:"logprob"`
	TopTokens   []int32   `json:"top_tokens,omitempty"`
	TopLogprobs []float32 `json:"top_logprobs,omitempty"`
}

// EventKind tells the events of a Stream apart.
type EventKind int

const (
	EventText     EventKind = iota // Text, Tokens
	EventProgress                  // PrefillDone, PrefillTotal
)

// Event is what a running request reports before its response.
type Event struct {
	Kind         EventKind
	Text         string  // EventText: a piece of generated text (may be empty)
	Tokens       []int32 // EventText: the token ids it came from
	PrefillDone  int64   // EventProgress: prompt tokens prefilled so far
	PrefillTotal int64   // EventProgress: of this many
}

// Transcript is a session's conversation so far.
type Transcript struct {
	Messages   []Message `json:"messages"`
	TokenCount int64     `json:"token_count"`
}

// ModelInfo and EngineInfo describe a running engine (engine_info.fbs).
type ModelInfo struct {
	Arch          string `json:"arch"`
	Name          string `json:"name"`
	NLayers       int    `json:"n_layers"`
	Dim           int    `json:"dim"`
	NHeads        int    `json:"n_heads"`
	NKVHeads      int    `json:"n_kv_heads"`
	HeadDim       int    `json:"head_dim"`
	FFNDim        int    `json:"ffn_dim"`
	Vocab         int    `json:"vocab"`
	ContextLength int    `json:"context_length"`
}

type EngineInfo struct {
	Version          string    `json:"version"`
	ABIVersion       int       `json:"abi_version"`
	Model            ModelInfo `json:"model"`
	WorldSize        int       `json:"world_size"`
	Backend          string    `json:"backend"`
	ChatTemplate     string    `json:"chat_template"`
	ModelFingerprint uint64    `json:"model_fingerprint"`
	AttnFlops        float64   `json:"attn_flops"`
	LinkBytesPerS    float64   `json:"link_bytes_per_s"`
	KVCacheType      string    `json:"kv_cache_type"` // "f32" or "bf16"
	WeightType       string    `json:"weight_type"`   // "f32", "bf16" or "q8_0"
}

// wireEvent is an Event message in its JSON form.
type wireEvent struct {
	Kind         string        `json:"kind"`
	Text         string        `json:"text"`
	Tokens       []int32       `json:"tokens"`
	PrefillDone  int64         `json:"prefill_done"`
	PrefillTotal int64         `json:"prefill_total"`
	Response     *ChatResponse `json:"response"`
	Status       int           `json:"status"`
	Message      string        `json:"message"`
}
