//! The AI plugins, and the LLM record they share (`kong.llm.schemas`).
//!
//! Stored configs are written out from Kong's 3.10 documentation
//! (Kong/developer.konghq.com `app/_schemas/gateway/plugins/3.10/<Name>.json`); the texts of
//! refused ones are Kong's schema library's (`kong/db/schema/init.lua` for validators and
//! entity checkers) with the plugin's own messages from its `schema.lua`.

use serde_json::{Value, json};

use super::{Expect, config, run};
use crate::both_backends;
use crate::harness::Backend;
use crate::harness::core_entities::{entity_error, field_error};

both_backends!(ai_plugins_get_kongs_defaults_and_kongs_errors);

/// An entity check of a nested record: an entity error at the record's path.
fn record_error(field: &str, messages: &[&str]) -> Value {
    let mut error = entity_error(messages);
    error["field"] = json!(field);
    error
}

/// The LLM record as stored when only `route_type` and `model` are given (AiProxy.json,
/// 3.10): `auth` and `model.options` are optional records without defaults, so `null`.
fn stored_llm(route_type: &str, model: Value) -> Value {
    json!({
        "route_type": route_type,
        "auth": null,
        "model": model,
        "logging": {"log_statistics": false, "log_payloads": false},
    })
}

/// `model.options` with only the given fields set, the rest as Kong fills them
/// (AiProxy.json, 3.10: `azure_api_version` defaults to 2023-05-15, `max_tokens` has no
/// default since 3.10).
fn stored_options(set: Value) -> Value {
    let mut options = json!({
        "max_tokens": null, "input_cost": null, "output_cost": null, "temperature": null,
        "top_p": null, "top_k": null, "anthropic_version": null, "azure_instance": null,
        "azure_api_version": "2023-05-15", "azure_deployment_id": null,
        "llama2_format": null, "mistral_format": null, "upstream_url": null,
        "upstream_path": null, "gemini": null, "bedrock": null, "huggingface": null,
    });
    for (key, value) in set.as_object().unwrap() {
        options[key] = value.clone();
    }
    options
}

fn ai_proxy(config_: Value, expect: Expect) -> super::Case {
    config("ai-proxy", config_, expect)
}

async fn ai_plugins_get_kongs_defaults_and_kongs_errors(backend: Backend) {
    let mut cases = vec![];
    cases.extend(prompt_decorator());
    cases.extend(prompt_guard());
    cases.extend(prompt_template());
    cases.extend(proxy());
    cases.extend(request_transformer());
    cases.extend(response_transformer());
    run(backend, cases).await;
}

fn prompt_decorator() -> Vec<super::Case> {
    vec![
        // AiPromptDecorator.json (3.10): `role` defaults to system, `append` is optional.
        config(
            "ai-prompt-decorator",
            json!({"prompts": {"prepend": [{"content": "You are a pirate."}]}}),
            Expect::Stored(json!({
                "prompts": {
                    "prepend": [{"role": "system", "content": "You are a pirate."}],
                    "append": null,
                },
                "max_request_body_size": 8192,
                "llm_format": "openai",
            })),
        ),
        // ai-prompt-decorator/schema.lua: `at_least_one_of` prepend, append.
        config(
            "ai-prompt-decorator",
            json!({}),
            Expect::Refused(vec![entity_error(&[
                "at least one of these fields must be non-empty: 'config.prompts.prepend', 'config.prompts.append'",
            ])]),
        ),
        // ai-prompt-decorator/schema.lua: role one_of, content len_min; llm_format one_of
        // (AiPromptDecorator.json, 3.10).
        config(
            "ai-prompt-decorator",
            json!({
                "prompts": {"append": [{"role": "robot", "content": ""}]},
                "llm_format": "anthropic",
            }),
            Expect::Refused(vec![
                field_error(
                    "config.llm_format",
                    &["expected one of: openai, bedrock, gemini"],
                ),
                field_error(
                    "config.prompts.append[0].content",
                    &["length must be at least 1"],
                ),
                field_error(
                    "config.prompts.append[0].role",
                    &["expected one of: system, assistant, user"],
                ),
            ]),
        ),
        // ai-prompt-decorator/schema.lua: at most 15 messages.
        config(
            "ai-prompt-decorator",
            json!({"prompts": {"prepend": vec![json!({"content": "x"}); 16]}}),
            Expect::Refused(vec![field_error(
                "config.prompts.prepend",
                &["length must be at most 15"],
            )]),
        ),
    ]
}

fn prompt_guard() -> Vec<super::Case> {
    vec![
        // AiPromptGuard.json (3.10).
        config(
            "ai-prompt-guard",
            json!({"deny_patterns": [".*password.*"]}),
            Expect::Stored(json!({
                "allow_patterns": null,
                "deny_patterns": [".*password.*"],
                "allow_all_conversation_history": false,
                "max_request_body_size": 8192,
                "match_all_roles": false,
                "llm_format": "openai",
            })),
        ),
        // ai-prompt-guard/schema.lua: `at_least_one_of` allow_patterns, deny_patterns.
        config(
            "ai-prompt-guard",
            json!({}),
            Expect::Refused(vec![entity_error(&[
                "at least one of these fields must be non-empty: 'config.allow_patterns', 'config.deny_patterns'",
            ])]),
        ),
        // ai-prompt-guard/schema.lua: match_all_roles needs the history checked.
        config(
            "ai-prompt-guard",
            json!({
                "allow_patterns": ["^weather"],
                "match_all_roles": true,
                "allow_all_conversation_history": true,
            }),
            Expect::Refused(vec![
                entity_error(&[
                    "failed conditional validation given value of field 'config.match_all_roles'",
                ]),
                field_error(
                    "config.allow_all_conversation_history",
                    &["value must be false"],
                ),
            ]),
        ),
        // ai-prompt-guard/schema.lua: pattern len_min, max_request_body_size gt = 0.
        config(
            "ai-prompt-guard",
            json!({"deny_patterns": [""], "max_request_body_size": 0}),
            Expect::Refused(vec![
                field_error("config.deny_patterns[0]", &["length must be at least 1"]),
                field_error(
                    "config.max_request_body_size",
                    &["value must be greater than 0"],
                ),
            ]),
        ),
    ]
}

fn prompt_template() -> Vec<super::Case> {
    vec![
        // AiPromptTemplate.json (3.10).
        config(
            "ai-prompt-template",
            json!({"templates": [{"name": "developer-chat", "template": "{\"messages\": []}"}]}),
            Expect::Stored(json!({
                "templates": [{"name": "developer-chat", "template": "{\"messages\": []}"}],
                "allow_untemplated_requests": true,
                "log_original_request": false,
                "max_request_body_size": 8192,
            })),
        ),
        // ai-prompt-template/schema.lua: `templates` is required.
        config(
            "ai-prompt-template",
            json!({}),
            Expect::Refused(vec![field_error(
                "config.templates",
                &["required field missing"],
            )]),
        ),
        // ai-prompt-template/schema.lua: each template needs its text.
        config(
            "ai-prompt-template",
            json!({"templates": [{"name": "x"}], "log_original_request": "yes"}),
            Expect::Refused(vec![
                field_error("config.log_original_request", &["expected a boolean"]),
                field_error("config.templates[0].template", &["required field missing"]),
            ]),
        ),
    ]
}

fn proxy() -> Vec<super::Case> {
    let proxy_defaults = |mut llm: Value| {
        llm["response_streaming"] = json!("allow");
        llm["max_request_body_size"] = json!(8192);
        llm["model_name_header"] = json!(true);
        llm["llm_format"] = json!("openai");
        llm
    };
    vec![
        // AiProxy.json (3.10).
        ai_proxy(
            json!({"route_type": "llm/v1/chat", "model": {"provider": "openai"}}),
            Expect::Stored(proxy_defaults(stored_llm(
                "llm/v1/chat",
                json!({"provider": "openai", "name": null, "options": null}),
            ))),
        ),
        // AiProxy.json (3.10): the options record filled in when given; auth's defaults.
        ai_proxy(
            json!({
                "route_type": "llm/v1/chat",
                "auth": {"header_name": "Authorization", "header_value": "Bearer sk"},
                "model": {
                    "provider": "llama2",
                    "name": "llama3",
                    "options": {"llama2_format": "ollama", "upstream_url": "http://ollama:11434/api/chat"},
                },
                "llm_format": "gemini",
            }),
            Expect::Stored({
                let mut stored = proxy_defaults(stored_llm(
                    "llm/v1/chat",
                    json!({
                        "provider": "llama2",
                        "name": "llama3",
                        "options": stored_options(json!({
                            "llama2_format": "ollama",
                            "upstream_url": "http://ollama:11434/api/chat",
                        })),
                    }),
                ));
                stored["auth"] = json!({
                    "header_name": "Authorization", "header_value": "Bearer sk",
                    "param_name": null, "param_value": null, "param_location": null,
                    "gcp_use_service_account": false, "gcp_service_account_json": null,
                    "aws_access_key_id": null, "aws_secret_access_key": null,
                    "allow_override": false,
                });
                stored["llm_format"] = json!("gemini");
                stored
            }),
        ),
        // Kong's required fields: route_type, model.provider.
        ai_proxy(
            json!({}),
            Expect::Refused(vec![
                field_error("config.model.provider", &["required field missing"]),
                field_error("config.route_type", &["required field missing"]),
            ]),
        ),
        // kong/llm/schemas: one_of lists of route_type, provider, response_streaming.
        ai_proxy(
            json!({
                "route_type": "llm/v1/embeddings",
                "model": {"provider": "openrouter"},
                "response_streaming": "sometimes",
            }),
            Expect::Refused(vec![
                field_error(
                    "config.model.provider",
                    &[
                        "expected one of: openai, azure, anthropic, cohere, mistral, llama2, gemini, bedrock, huggingface",
                    ],
                ),
                field_error(
                    "config.response_streaming",
                    &["expected one of: allow, deny, always"],
                ),
                field_error(
                    "config.route_type",
                    &["expected one of: llm/v1/chat, llm/v1/completions, preserve"],
                ),
            ]),
        ),
        // kong/llm/schemas: what llama2 needs (conditional_at_least_one_of, then_err).
        ai_proxy(
            json!({"route_type": "llm/v1/chat", "model": {"provider": "llama2"}}),
            Expect::Refused(vec![record_error(
                "config",
                &[
                    "must set 'model.options.llama2_format' for llama2 provider",
                    "must set 'model.options.upstream_url' for self-hosted providers/models",
                ],
            )]),
        ),
        // kong/llm/schemas: what azure needs; azure_api_version's default only applies
        // once `options` is given.
        ai_proxy(
            json!({"route_type": "llm/v1/chat", "model": {"provider": "azure"}}),
            Expect::Refused(vec![record_error(
                "config",
                &[
                    "must set 'model.options.azure_instance' for azure provider",
                    "must set 'model.options.azure_api_version' for azure provider",
                    "must set 'model.options.azure_deployment_id' for azure provider",
                ],
            )]),
        ),
        // kong/llm/schemas: mistral and anthropic.
        ai_proxy(
            json!({"route_type": "llm/v1/chat", "model": {"provider": "mistral", "options": {}}}),
            Expect::Refused(vec![record_error(
                "config",
                &["must set 'model.options.mistral_format' for mistral provider"],
            )]),
        ),
        // kong/llm/schemas: the custom entity check on statistics.
        ai_proxy(
            json!({
                "route_type": "llm/v1/completions",
                "model": {"provider": "anthropic", "options": {"anthropic_version": "2023-06-01"}},
                "logging": {"log_statistics": true},
            }),
            Expect::Refused(vec![record_error(
                "config",
                &["anthropic does not support statistics when route_type is llm/v1/completions"],
            )]),
        ),
        // kong/llm/schemas: the conditional on allow_override, with its then_err.
        ai_proxy(
            json!({
                "route_type": "llm/v1/chat",
                "auth": {"allow_override": true},
                "model": {"provider": "bedrock"},
            }),
            Expect::Refused(vec![
                record_error(
                    "config",
                    &["bedrock and gemini only support auth.allow_override = false"],
                ),
                field_error("config.auth.allow_override", &["value must be false"]),
            ]),
        ),
        // kong/llm/schemas: header and param auth come with their values.
        ai_proxy(
            json!({
                "route_type": "llm/v1/chat",
                "auth": {"header_name": "api-key", "param_name": "key"},
                "model": {"provider": "openai"},
            }),
            Expect::Refused(vec![record_error(
                "config",
                &[
                    "all or none of these fields must be set: 'auth.header_name', 'auth.header_value'",
                    "all or none of these fields must be set: 'auth.param_name', 'auth.param_value', 'auth.param_location'",
                ],
            )]),
        ),
        // kong/llm/schemas: the conditional on allow_override also refuses an absent
        // `auth` (Kong's `validate_field` answers `value must be false` for null), which is
        // why Kong's Bedrock and Gemini examples set `auth.allow_override: false`.
        // Model options' validators; gemini's options come together.
        ai_proxy(
            json!({
                "route_type": "llm/v1/chat",
                "model": {"provider": "gemini", "options": {
                    "temperature": 6, "top_k": 501, "input_cost": 0,
                    "gemini": {"project_id": "p"},
                }},
            }),
            Expect::Refused(vec![
                record_error(
                    "config",
                    &["bedrock and gemini only support auth.allow_override = false"],
                ),
                field_error("config.auth.allow_override", &["value must be false"]),
                record_error(
                    "config.model.options.gemini",
                    &[
                        "all or none of these fields must be set: 'api_endpoint', 'project_id', 'location_id'",
                    ],
                ),
                field_error(
                    "config.model.options.input_cost",
                    &["value must be greater than 0"],
                ),
                field_error(
                    "config.model.options.temperature",
                    &["value should be between 0 and 5"],
                ),
                field_error(
                    "config.model.options.top_k",
                    &["value should be between 0 and 500"],
                ),
            ]),
        ),
    ]
}

/// The transformers' minimal LLM, as sent and as stored.
fn transformer_llm() -> (Value, Value) {
    (
        json!({"route_type": "llm/v1/chat", "model": {"provider": "openai", "name": "gpt-4o"}}),
        stored_llm(
            "llm/v1/chat",
            json!({"provider": "openai", "name": "gpt-4o", "options": null}),
        ),
    )
}

/// Kong's own spec case (spec/03-plugins/39-ai-request-transformer/00-config_spec.lua,
/// "must be 'llm/v1/chat' route type"), for either transformer.
fn transformer_wrong_route_type(plugin: &'static str) -> super::Case {
    config(
        plugin,
        json!({"llm": {
            "route_type": "llm/v1/completions",
            "auth": {"header_name": "Authorization", "header_value": "Bearer token"},
            "model": {
                "name": "llama-2-7b-chat-hf",
                "provider": "llama2",
                "options": {
                    "max_tokens": 256, "temperature": 1.0, "llama2_format": "raw",
                    "upstream_url": "http://kong",
                },
            },
        }}),
        Expect::Refused(vec![
            entity_error(&[
                "'config.llm.route_type' must be 'llm/v1/chat' for AI transformer plugins",
            ]),
            field_error("config.llm.route_type", &["value must be llm/v1/chat"]),
            field_error("config.prompt", &["required field missing"]),
        ]),
    )
}

/// Kong's spec case "requires 'https_proxy_host' and 'https_proxy_port' to be set together".
fn transformer_proxy_alone(plugin: &'static str) -> super::Case {
    config(
        plugin,
        json!({"prompt": "anything", "https_proxy_host": "kong.local", "llm": transformer_llm().0}),
        Expect::Refused(vec![entity_error(&[
            "all or none of these fields must be set: 'config.https_proxy_host', 'config.https_proxy_port'",
        ])]),
    )
}

fn request_transformer() -> Vec<super::Case> {
    let (llm, stored) = transformer_llm();
    vec![
        // AiRequestTransformer.json (3.10).
        config(
            "ai-request-transformer",
            json!({"prompt": "Translate the body to French.", "llm": llm}),
            Expect::Stored(json!({
                "prompt": "Translate the body to French.",
                "transformation_extract_pattern": null,
                "http_timeout": 60000,
                "https_verify": true,
                "max_request_body_size": 8192,
                "http_proxy_host": null,
                "http_proxy_port": null,
                "https_proxy_host": null,
                "https_proxy_port": null,
                "llm": stored,
            })),
        ),
        // ai-request-transformer/schema.lua: `consumer = typedefs.no_consumer` (3.10's
        // documentation lists no `consumer` for this plugin).
        super::Case {
            plugin: "ai-request-transformer",
            body: json!({
                "consumer": {"id": "5c0a3a5e-8c5c-4a7d-9a4e-0c1d9c0b6f10"},
                "config": {"prompt": "p", "llm": transformer_llm().0},
            }),
            expect: Expect::Refused(vec![field_error("consumer", &["value must be null"])]),
        },
        transformer_wrong_route_type("ai-request-transformer"),
        transformer_proxy_alone("ai-request-transformer"),
        // Kong's `typedefs.port` and `typedefs.host` validators.
        config(
            "ai-request-transformer",
            json!({"prompt": "p", "llm": transformer_llm().0,
                   "http_proxy_host": "bad host", "http_proxy_port": 70000}),
            Expect::Refused(vec![
                field_error("config.http_proxy_host", &["invalid value: bad host"]),
                field_error(
                    "config.http_proxy_port",
                    &["value should be between 0 and 65535"],
                ),
            ]),
        ),
    ]
}

fn response_transformer() -> Vec<super::Case> {
    let (llm, stored) = transformer_llm();
    vec![
        // AiResponseTransformer.json (3.10).
        config(
            "ai-response-transformer",
            json!({"prompt": "Summarise the body.", "llm": llm}),
            Expect::Stored(json!({
                "prompt": "Summarise the body.",
                "transformation_extract_pattern": null,
                "parse_llm_response_json_instructions": false,
                "http_timeout": 60000,
                "https_verify": true,
                "max_request_body_size": 8192,
                "http_proxy_host": null,
                "http_proxy_port": null,
                "https_proxy_host": null,
                "https_proxy_port": null,
                "llm": stored,
            })),
        ),
        transformer_wrong_route_type("ai-response-transformer"),
        transformer_proxy_alone("ai-response-transformer"),
        // The LLM record's own checks apply under `llm` (kong/llm/schemas).
        config(
            "ai-response-transformer",
            json!({"prompt": "p", "llm": {"route_type": "llm/v1/chat", "model": {"provider": "llama2"}}}),
            Expect::Refused(vec![record_error(
                "config.llm",
                &[
                    "must set 'model.options.llama2_format' for llama2 provider",
                    "must set 'model.options.upstream_url' for self-hosted providers/models",
                ],
            )]),
        ),
    ]
}

both_backends!(ai_proxy_schema_is_served_with_the_shared_llm_record);

/// `GET .../schemas/plugins/ai-proxy` renders the LLM record inside `config`, in Kong's
/// field order, with AiProxy.json's descriptions (3.10) and its entity checks.
async fn ai_proxy_schema_is_served_with_the_shared_llm_record(backend: Backend) {
    use crate::harness::{TestApp, status_and_json};
    let app = TestApp::spawn(backend).await;
    let cp = app.create_control_plane(&json!({"name": "ai"})).await;
    let cp = cp["id"].as_str().unwrap();
    let (status, schema) = status_and_json(
        app.get(&format!(
            "/v2/control-planes/{cp}/core-entities/schemas/plugins/ai-proxy"
        ))
        .await,
    )
    .await;
    assert_eq!(status, 200, "{schema}");
    let config = schema["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|f| f.get("config"))
        .unwrap();
    let names: Vec<&str> = config["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_object().unwrap().keys().next().unwrap().as_str())
        .collect();
    assert_eq!(
        names,
        [
            "route_type",
            "auth",
            "model",
            "logging",
            "response_streaming",
            "max_request_body_size",
            "model_name_header",
            "llm_format"
        ]
    );
    assert_eq!(
        config["fields"][0]["route_type"]["description"],
        "The model's operation implementation, for this provider. Set to `preserve` to pass through without transformation."
    );
    assert_eq!(
        config["fields"][2]["model"]["fields"][0]["provider"]["one_of"],
        json!([
            "openai",
            "azure",
            "anthropic",
            "cohere",
            "mistral",
            "llama2",
            "gemini",
            "bedrock",
            "huggingface"
        ])
    );
    // Eleven checks, the last a custom one whose function JSON cannot carry.
    assert_eq!(config["entity_checks"].as_array().unwrap().len(), 11);
    app.shutdown().await;
}
