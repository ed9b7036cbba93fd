// Whisper binding (see whisper-object.h). Every entry point runs inside guarded() so no C++ exception reaches
// Node-API. The model is shared with in-flight transcriptions, which also hold its mutex while they run.
#include "binding/whisper-object.h"

#include <atomic>
#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "binding/binding-support.h"
#include "whisper/whisper-decode.h"
#include "whisper/whisper-model.h"

namespace sovren::binding {
namespace {

struct WhisperHandle {
  std::shared_ptr<WhisperModel> model;
  std::shared_ptr<std::mutex> busy = std::make_shared<std::mutex>();
  std::map<int64_t, std::shared_ptr<std::atomic<bool>>> cancels;  // JS thread only
};

std::vector<float> read_pcm(Napi::Env env, const Napi::Value& value, const char* name) {
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw_type_error(env, std::string(name) + " must be a Float32Array of 16 kHz mono samples");
  }
  const Napi::Float32Array a = value.As<Napi::Float32Array>();
  std::vector<float> pcm(a.Data(), a.Data() + a.ElementLength());
  for (float v : pcm) {
    if (!std::isfinite(v)) throw_type_error(env, std::string(name) + " holds a non-finite sample");
  }
  return pcm;
}

Napi::Float32Array to_float32(Napi::Env env, const std::vector<float>& v) {
  Napi::Float32Array out = Napi::Float32Array::New(env, v.size());
  std::copy(v.begin(), v.end(), out.Data());
  return out;
}

class WhisperObject : public Napi::ObjectWrap<WhisperObject> {
 public:
  static Napi::Function define(Napi::Env env) {
    return DefineClass(env, "WhisperModel",
                       {
                           InstanceMethod<&WhisperObject::info>("info"),
                           InstanceMethod<&WhisperObject::log_mel>("logMel"),
                           InstanceMethod<&WhisperObject::encode>("encode"),
                           InstanceMethod<&WhisperObject::logits>("logits"),
                           InstanceMethod<&WhisperObject::token_bytes>("tokenBytes"),
                           InstanceMethod<&WhisperObject::tokenize>("tokenize"),
                           InstanceMethod<&WhisperObject::transcribe>("transcribe"),
                           InstanceMethod<&WhisperObject::cancel>("cancel"),
                           InstanceMethod<&WhisperObject::close>("close"),
                           InstanceAccessor<&WhisperObject::is_closed>("closed"),
                       });
  }

  explicit WhisperObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<WhisperObject>(info) {}

  void attach(std::unique_ptr<WhisperModel> model) {
    handle_ = std::make_shared<WhisperHandle>();
    handle_->model = std::shared_ptr<WhisperModel>(std::move(model));
  }

 private:
  WhisperModel& open_model(Napi::Env env) const {
    if (!handle_) throw Napi::Error::New(env, "WhisperModel objects are created by loadWhisper()");
    if (!handle_->model) throw Napi::Error::New(env, "whisper model is closed");
    return *handle_->model;
  }

  // The synchronous methods refuse to run beside a transcription (they share the backend's scratch buffers).
  std::unique_lock<std::mutex> lock_idle(Napi::Env env) const {
    std::unique_lock<std::mutex> lock(*handle_->busy, std::try_to_lock);
    if (!lock.owns_lock()) throw Napi::Error::New(env, "whisper model is busy transcribing");
    return lock;
  }

  int audio_ctx_arg(const Napi::CallbackInfo& info, size_t index, const WhisperModel& m) const {
    if (info.Length() <= index || info[index].IsUndefined()) return m.hparams().n_audio_ctx;
    if (!info[index].IsNumber()) throw_type_error(info.Env(), "audioCtx must be an integer");
    const int64_t v = info[index].As<Napi::Number>().Int64Value();
    if (v < 1 || v > m.hparams().n_audio_ctx) {
      throw_type_error(info.Env(), "audioCtx must be in 1.." + std::to_string(m.hparams().n_audio_ctx));
    }
    return static_cast<int>(v);
  }

  Napi::Value info(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      const WhisperModel& m = open_model(env);
      const auto& h = m.hparams();
      const auto& sp = m.special();
      Napi::Object o = Napi::Object::New(env);
      o.Set("nVocab", h.n_vocab);
      o.Set("nAudioCtx", h.n_audio_ctx);
      o.Set("nAudioState", h.n_audio_state);
      o.Set("nAudioHead", h.n_audio_head);
      o.Set("nAudioLayer", h.n_audio_layer);
      o.Set("nTextCtx", h.n_text_ctx);
      o.Set("nTextState", h.n_text_state);
      o.Set("nTextHead", h.n_text_head);
      o.Set("nTextLayer", h.n_text_layer);
      o.Set("nMels", h.n_mels);
      o.Set("ftype", h.ftype);
      o.Set("multilingual", sp.multilingual);
      o.Set("weightTypes", m.weight_type_summary());
      o.Set("backend", m.backend().name());
      o.Set("threads", m.backend().n_threads());
      o.Set("fileBytes", Napi::Number::New(env, static_cast<double>(m.file().file_size())));
      Napi::Object t = Napi::Object::New(env);
      t.Set("eot", sp.eot);
      t.Set("sot", sp.sot);
      t.Set("firstLanguage", sp.first_language);
      t.Set("languageCount", sp.n_languages);
      t.Set("translate", sp.translate);
      t.Set("transcribe", sp.transcribe);
      t.Set("startOfLm", sp.solm);
      t.Set("previous", sp.prev);
      t.Set("noSpeech", sp.nosp);
      t.Set("noTimestamps", sp.no_timestamps);
      t.Set("timestampBegin", sp.timestamp_begin);
      o.Set("specialTokens", t);
      return o;
    });
  }

  Napi::Value log_mel(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      const WhisperModel& m = open_model(env);
      const std::vector<float> pcm = read_pcm(env, info[0], "pcm");
      const int ctx = audio_ctx_arg(info, 1, m);
      auto lock = lock_idle(env);
      return to_float32(env, m.log_mel(pcm.data(), pcm.size(), ctx));
    });
  }

  Napi::Value encode(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      const WhisperModel& m = open_model(env);
      const std::vector<float> pcm = read_pcm(env, info[0], "pcm");
      const int ctx = audio_ctx_arg(info, 1, m);
      auto lock = lock_idle(env);
      const std::vector<float> mel = m.log_mel(pcm.data(), pcm.size(), ctx);
      return to_float32(env, m.encode({mel.data()}, ctx)[0]);
    });
  }

  // logits(pcm, tokens, audioCtx?, chunk?): logits of every token, fed `chunk` tokens per decoder step (default all).
  Napi::Value logits(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      const WhisperModel& m = open_model(env);
      const std::vector<float> pcm = read_pcm(env, info[0], "pcm");
      const std::vector<int32_t> ids = read_token_ids(env, info[1], "tokens");
      const int ctx = audio_ctx_arg(info, 2, m);
      int64_t chunk = static_cast<int64_t>(ids.size());
      if (info.Length() > 3 && !info[3].IsUndefined()) {
        if (!info[3].IsNumber() || info[3].As<Napi::Number>().Int64Value() < 1) {
          throw_type_error(env, "chunk must be a positive integer");
        }
        chunk = info[3].As<Napi::Number>().Int64Value();
      }
      if (ids.empty()) throw_type_error(env, "tokens must not be empty");
      auto lock = lock_idle(env);
      const std::vector<float> mel = m.log_mel(pcm.data(), pcm.size(), ctx);
      auto state = m.new_state(std::move(m.encode({mel.data()}, ctx)[0]), ctx);
      std::vector<float> all;
      for (size_t start = 0; start < ids.size(); start += static_cast<size_t>(chunk)) {
        const size_t end = std::min(ids.size(), start + static_cast<size_t>(chunk));
        const std::vector<int32_t> part(ids.begin() + static_cast<long>(start), ids.begin() + static_cast<long>(end));
        const std::vector<float> l = m.decode({state.get()}, {part}, true);
        all.insert(all.end(), l.begin(), l.end());
      }
      return to_float32(env, all);
    });
  }

  // tokenize(text: string | Buffer): the byte-level BPE token ids of the text's bytes.
  Napi::Value tokenize(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      const WhisperModel& m = open_model(env);
      std::string bytes;
      if (info.Length() > 0 && info[0].IsString()) {
        bytes = info[0].As<Napi::String>().Utf8Value();
      } else if (info.Length() > 0 && info[0].IsBuffer()) {
        const auto buf = info[0].As<Napi::Buffer<char>>();
        bytes.assign(buf.Data(), buf.Length());
      } else {
        throw_type_error(env, "tokenize(text): text must be a string or a Buffer");
      }
      return to_js_array(env, m.tokenizer().encode(bytes));
    });
  }

  Napi::Value token_bytes(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      const WhisperModel& m = open_model(env);
      const std::string bytes = whisper_token_bytes(m, read_token_ids(env, info[0], "ids"));
      return Napi::Buffer<char>::Copy(env, bytes.data(), bytes.size());
    });
  }

  class TranscribeWorker : public Napi::AsyncWorker {
   public:
    TranscribeWorker(Napi::Env env, std::shared_ptr<WhisperHandle> handle)
        : Napi::AsyncWorker(env, "sovren.whisper.transcribe"),
          deferred_(Napi::Promise::Deferred::New(env)),
          handle_(handle),
          model_(handle->model),
          busy_(handle->busy) {}
    Napi::Promise promise() const { return deferred_.Promise(); }
    std::vector<std::vector<float>> pcm;
    std::vector<WhisperDecodeOptions> options;
    std::vector<std::shared_ptr<std::atomic<bool>>> flags;
    std::vector<int64_t> cancel_ids;  // forgotten by the handle when this batch ends

    void Execute() override {
      try {
        std::lock_guard<std::mutex> lock(*busy_);
        std::vector<WhisperAudio> audio;
        for (const auto& p : pcm) audio.push_back({p.data(), p.size()});
        for (size_t i = 0; i < options.size(); ++i) options[i].cancel = flags[i].get();
        results_ = whisper_transcribe(*model_, audio, options);
      } catch (const std::exception& e) {
        SetError(e.what());
      } catch (...) {
        SetError("unknown native error in whisper transcribe");
      }
    }

    void forget_cancel_ids() {
      for (size_t i = 0; i < cancel_ids.size(); ++i) {
        const auto it = handle_->cancels.find(cancel_ids[i]);
        if (it != handle_->cancels.end() && it->second == flags[i]) handle_->cancels.erase(it);
      }
    }

    void OnOK() override {
      forget_cancel_ids();
      Napi::Env env = Env();
      Napi::Array out = Napi::Array::New(env, results_.size());
      for (size_t i = 0; i < results_.size(); ++i) {
        const WhisperDecodeResult& r = results_[i];
        Napi::Object o = Napi::Object::New(env);
        o.Set("tokens", to_js_array(env, r.tokens));
        o.Set("text", Napi::Buffer<char>::Copy(env, r.text.data(), r.text.size()));
        o.Set("language", r.language);
        o.Set("avgLogprob", r.avg_logprob);
        o.Set("noSpeechProb", r.no_speech_prob);
        o.Set("cancelled", r.cancelled);
        o.Set("melMs", r.mel_ms);
        o.Set("encodeMs", r.encode_ms);
        o.Set("decodeMs", r.decode_ms);
        Napi::Array segs = Napi::Array::New(env, r.segments.size());
        for (size_t s = 0; s < r.segments.size(); ++s) {
          Napi::Object seg = Napi::Object::New(env);
          seg.Set("start", r.segments[s].start);
          seg.Set("end", r.segments[s].end);
          seg.Set("text", Napi::Buffer<char>::Copy(env, r.segments[s].text.data(), r.segments[s].text.size()));
          seg.Set("tokens", to_js_array(env, r.segments[s].tokens));
          segs.Set(static_cast<uint32_t>(s), seg);
        }
        o.Set("segments", segs);
        out.Set(static_cast<uint32_t>(i), o);
      }
      deferred_.Resolve(out);
    }
    void OnError(const Napi::Error& error) override {
      forget_cancel_ids();
      deferred_.Reject(error.Value());
    }

   private:
    Napi::Promise::Deferred deferred_;
    std::shared_ptr<WhisperHandle> handle_;
    std::shared_ptr<WhisperModel> model_;
    std::shared_ptr<std::mutex> busy_;
    std::vector<WhisperDecodeResult> results_;
  };

  // transcribe(entries[], {audioCtx}) -> Promise<result[]>; entry: {pcm, language?, translate?, timestamps?,
  // temperature?, seed?, maxTokens?, prompt?: number[], cancelId?: number}.
  Napi::Value transcribe(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      WhisperModel& m = open_model(env);
      if (info.Length() < 1 || !info[0].IsArray())
        throw_type_error(env, "transcribe(entries): entries must be an array");
      const Napi::Array entries = info[0].As<Napi::Array>();
      if (entries.Length() == 0) throw_type_error(env, "transcribe needs at least one utterance");
      const Napi::Object opts = optional_object(info, 1, "transcribe options");
      const int64_t ctx = integer_or(opts, "audioCtx", m.hparams().n_audio_ctx, "options");
      if (ctx < 1 || ctx > m.hparams().n_audio_ctx) {
        throw_type_error(env, "options.audioCtx must be in 1.." + std::to_string(m.hparams().n_audio_ctx));
      }
      auto* worker = new TranscribeWorker(env, handle_);
      std::unique_ptr<TranscribeWorker> guard(worker);  // until queued
      for (uint32_t i = 0; i < entries.Length(); ++i) {
        const Napi::Value v = entries.Get(i);
        if (!v.IsObject()) throw_type_error(env, "each transcribe entry must be an object");
        const Napi::Object e = v.As<Napi::Object>();
        worker->pcm.push_back(read_pcm(env, e.Get("pcm"), "entry.pcm"));
        if (worker->pcm.back().size() > static_cast<size_t>(kWhisperMaxSamples)) {
          throw_type_error(env, "entry.pcm is longer than 30 s (480000 samples)");
        }
        WhisperDecodeOptions o;
        const Napi::Value lang = e.Get("language");
        if (!lang.IsUndefined() && !lang.IsNull()) {
          if (!lang.IsString()) throw_type_error(env, "entry.language must be a string");
          o.language = lang.As<Napi::String>().Utf8Value();
        }
        o.translate = bool_or(e, "translate", false, "entry");
        o.timestamps = bool_or(e, "timestamps", false, "entry");
        o.temperature = static_cast<float>(number_or(e, "temperature", 0.0, "entry"));
        if (!(o.temperature >= 0.0f && o.temperature <= 2.0f))
          throw_type_error(env, "entry.temperature must be in 0..2");
        o.seed = static_cast<uint64_t>(integer_or(e, "seed", 0, "entry"));
        const int64_t beam = integer_or(e, "beamSize", 1, "entry");
        if (beam < 1 || beam > 16) throw_type_error(env, "entry.beamSize must be in 1..16");
        o.beam_size = static_cast<int>(beam);
        o.max_tokens = static_cast<int>(integer_or(e, "maxTokens", 0, "entry"));
        if (o.max_tokens < 0) throw_type_error(env, "entry.maxTokens must not be negative");
        o.audio_ctx = static_cast<int>(ctx);
        const Napi::Value prompt = e.Get("prompt");
        if (!prompt.IsUndefined() && !prompt.IsNull()) o.prompt = read_token_ids(env, prompt, "entry.prompt");
        for (int32_t id : o.prompt) {
          if (id < 0 || id >= m.special().n_regular) throw_type_error(env, "entry.prompt holds a non-text token id");
        }
        auto flag = std::make_shared<std::atomic<bool>>(false);
        const int64_t cancel_id = integer_or(e, "cancelId", -1, "entry");
        if (cancel_id >= 0) handle_->cancels[cancel_id] = flag;
        worker->options.push_back(std::move(o));
        worker->flags.push_back(std::move(flag));
        worker->cancel_ids.push_back(cancel_id);
      }
      Napi::Promise promise = worker->promise();
      guard.release();
      worker->Queue();  // deletes itself after OnOK / OnError
      return promise;
    });
  }

  // cancel(cancelId): the utterance stops before its next decoder step (its result has cancelled: true).
  Napi::Value cancel(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    return guarded(env, [&]() -> Napi::Value {
      if (!info[0].IsNumber()) throw_type_error(env, "cancel(cancelId): cancelId must be a number");
      if (!handle_) return env.Undefined();
      const auto it = handle_->cancels.find(info[0].As<Napi::Number>().Int64Value());
      if (it != handle_->cancels.end()) {
        it->second->store(true);
        handle_->cancels.erase(it);
      }
      return env.Undefined();
    });
  }

  Napi::Value close(const Napi::CallbackInfo& info) {
    if (handle_) {
      for (auto& [id, flag] : handle_->cancels) flag->store(true);
      handle_->cancels.clear();
      handle_->model.reset();  // in-flight transcriptions keep their own reference
    }
    return info.Env().Undefined();
  }

  Napi::Value is_closed(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), !handle_ || !handle_->model);
  }

  static constexpr int kWhisperMaxSamples = 30 * 16000;
  std::shared_ptr<WhisperHandle> handle_;
};

class LoadWhisperWorker : public Napi::AsyncWorker {
 public:
  LoadWhisperWorker(Napi::Env env, Napi::FunctionReference* ctor, std::string path, WhisperLoadOptions options)
      : Napi::AsyncWorker(env, "sovren.loadWhisper"),
        deferred_(Napi::Promise::Deferred::New(env)),
        ctor_(ctor),
        path_(std::move(path)),
        options_(options) {}
  Napi::Promise promise() const { return deferred_.Promise(); }

  void Execute() override {
    try {
      model_ = WhisperModel::load(path_, options_);
    } catch (const std::exception& e) {
      SetError(e.what());
    } catch (...) {
      SetError("unknown native error while loading '" + path_ + "'");
    }
  }
  void OnOK() override {
    try {
      Napi::Object obj = ctor_->New({});
      Napi::ObjectWrap<WhisperObject>::Unwrap(obj)->attach(std::move(model_));
      deferred_.Resolve(obj);
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::FunctionReference* ctor_;
  std::string path_;
  WhisperLoadOptions options_;
  std::unique_ptr<WhisperModel> model_;
};

Napi::Value load_whisper(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guarded(env, [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsString()) throw_type_error(env, "loadWhisper(path): path must be a string");
    const Napi::Object opts = optional_object(info, 1, "loadWhisper options");
    const int64_t threads = integer_or(opts, "threads", 0, "options");
    if (threads < 0 || threads > 4096) throw_type_error(env, "options.threads must be in 0..4096 (0: all cores)");
    WhisperLoadOptions options;
    options.n_threads = static_cast<int>(threads);
    auto* ctor = static_cast<Napi::FunctionReference*>(info.Data());
    auto* worker = new LoadWhisperWorker(env, ctor, info[0].As<Napi::String>().Utf8Value(), options);
    Napi::Promise promise = worker->promise();
    worker->Queue();
    return promise;
  });
}

}  // namespace

void register_whisper(Napi::Env env, Napi::Object exports) {
  auto* ctor = new Napi::FunctionReference(Napi::Persistent(WhisperObject::define(env)));
  env.AddCleanupHook([ctor]() { delete ctor; });
  exports.Set("loadWhisper", Napi::Function::New(env, load_whisper, "loadWhisper", ctor));
}

}  // namespace sovren::binding
