-- konnektd's `kong.llm.schemas`: the LLM record Kong 3.10's ai-* plugins share (the
-- `config` of ai-proxy, the `llm` of ai-request-transformer and ai-response-transformer).
--
-- Sources:
-- * Fields, types, defaults, one_of lists and descriptions: Kong's documentation, JSON form,
--   Kong/developer.konghq.com `app/_schemas/gateway/plugins/3.10/AiProxy.json` (commit
--   571bf1d453ca980b9dc49374be1652d7e375eab0), the same record as in
--   AiRequestTransformer.json and AiResponseTransformer.json of 3.10. The documentation's
--   "This field is referenceable/encrypted" suffixes are rendered from the flags below and
--   are not part of Kong's descriptions.
-- * Validators the JSON does not show (`gt = 0`), required flags, entity checks and their
--   messages: Kong/kong `kong/llm/schemas/init.lua` (commit
--   1f6d269517cfb8e0221dad0ffc68d95c3344bbbb, the open-source file with the bedrock and
--   gemini options), with what 3.9 and 3.10 changed as the documentation of those versions
--   shows it: the `huggingface` provider and options (3.9), the Bedrock assume-role options
--   (3.10) and `max_tokens` without its default of 256 (3.10).
-- * Left out on purpose: the Azure managed-identity fields of `auth`
--   (`azure_use_managed_identity`, `azure_client_id`, `azure_client_secret`,
--   `azure_tenant_id`). The documentation lists them, but Kong's source marks them
--   Enterprise-only (`-- [[ EE` in Kong's EE copy of this file, absent from the open-source
--   one), and a Kong 3.10 open-source data plane refuses a config carrying them.
--
-- `require "kong.llm.schemas"` returns the record; a plugin that adds fields to it builds
-- its own record around a copy of `fields` (ai-proxy does), never changing this one.
local typedefs = require "kong.db.schema.typedefs"

local bedrock_options = {
  type = "record",
  required = false,
  fields = {
    { aws_region = {
        description = "If using AWS providers (Bedrock) you can override the `AWS_REGION` environment variable by setting this option.",
        type = "string",
        required = false,
    } },
    { aws_assume_role_arn = {
        description = "If using AWS providers (Bedrock) you can assume a different role after authentication with the current IAM context is successful.",
        type = "string",
        required = false,
    } },
    { aws_role_session_name = {
        description = "If using AWS providers (Bedrock), set the identifier of the assumed role session.",
        type = "string",
    } },
    { aws_sts_endpoint_url = {
        description = "If using AWS providers (Bedrock), override the STS endpoint URL when assuming a different role.",
        type = "string",
    } },
  },
}

local gemini_options = {
  type = "record",
  required = false,
  fields = {
    { api_endpoint = {
        description = "If running Gemini on Vertex, specify the regional API endpoint (hostname only).",
        type = "string",
        required = false,
    } },
    { project_id = {
        description = "If running Gemini on Vertex, specify the project ID.",
        type = "string",
        required = false,
    } },
    { location_id = {
        description = "If running Gemini on Vertex, specify the location ID.",
        type = "string",
        required = false,
    } },
  },
  entity_checks = {
    { mutually_required = { "api_endpoint", "project_id", "location_id" } },
  },
}

local huggingface_options = {
  type = "record",
  required = false,
  fields = {
    { use_cache = {
        description = "Use the cache layer on the inference API",
        type = "boolean",
        required = false,
    } },
    { wait_for_model = {
        description = "Wait for the model if it is not ready",
        type = "boolean",
        required = false,
    } },
  },
}

local auth = {
  type = "record",
  required = false,
  fields = {
    { header_name = {
        description = "If AI model requires authentication via Authorization or API key header, specify its name here.",
        type = "string",
        required = false,
        referenceable = true,
    } },
    { header_value = {
        description = "Specify the full auth header value for 'header_name', for example 'Bearer key' or just 'key'.",
        type = "string",
        required = false,
        encrypted = true,
        referenceable = true,
    } },
    { param_name = {
        description = "If AI model requires authentication via query parameter, specify its name here.",
        type = "string",
        required = false,
        referenceable = true,
    } },
    { param_value = {
        description = "Specify the full parameter value for 'param_name'.",
        type = "string",
        required = false,
        encrypted = true,
        referenceable = true,
    } },
    { param_location = {
        description = "Specify whether the 'param_name' and 'param_value' options go in a query string, or the POST form/JSON body.",
        type = "string",
        required = false,
        one_of = { "query", "body" },
    } },
    { gcp_use_service_account = {
        description = "Use service account auth for GCP-based providers and models.",
        type = "boolean",
        required = false,
        default = false,
    } },
    { gcp_service_account_json = {
        description = "Set this field to the full JSON of the GCP service account to authenticate, if required. If null (and gcp_use_service_account is true), Kong will attempt to read from environment variable `GCP_SERVICE_ACCOUNT`.",
        type = "string",
        required = false,
        encrypted = true,
        referenceable = true,
    } },
    { aws_access_key_id = {
        description = "Set this if you are using an AWS provider (Bedrock) and you are authenticating using static IAM User credentials. Setting this will override the AWS_ACCESS_KEY_ID environment variable for this plugin instance.",
        type = "string",
        required = false,
        encrypted = true,
        referenceable = true,
    } },
    { aws_secret_access_key = {
        description = "Set this if you are using an AWS provider (Bedrock) and you are authenticating using static IAM User credentials. Setting this will override the AWS_SECRET_ACCESS_KEY environment variable for this plugin instance.",
        type = "string",
        required = false,
        encrypted = true,
        referenceable = true,
    } },
    { allow_override = {
        description = "If enabled, the authorization header or parameter can be overridden in the request by the value configured in the plugin.",
        type = "boolean",
        required = false,
        default = false,
    } },
  },
}

local model_options = {
  description = "Key/value settings for the model",
  type = "record",
  required = false,
  fields = {
    { max_tokens = {
        description = "Defines the max_tokens, if using chat or completion models.",
        type = "integer",
        required = false,
    } },
    { input_cost = {
        description = "Defines the cost per 1M tokens in your prompt.",
        type = "number",
        required = false,
        gt = 0,
    } },
    { output_cost = {
        description = "Defines the cost per 1M tokens in the output of the AI.",
        type = "number",
        required = false,
        gt = 0,
    } },
    { temperature = {
        description = "Defines the matching temperature, if using chat or completion models.",
        type = "number",
        required = false,
        between = { 0.0, 5.0 },
    } },
    { top_p = {
        description = "Defines the top-p probability mass, if supported.",
        type = "number",
        required = false,
        between = { 0, 1 },
    } },
    { top_k = {
        description = "Defines the top-k most likely tokens, if supported.",
        type = "integer",
        required = false,
        between = { 0, 500 },
    } },
    { anthropic_version = {
        description = "Defines the schema/API version, if using Anthropic provider.",
        type = "string",
        required = false,
    } },
    { azure_instance = {
        description = "Instance name for Azure OpenAI hosted models.",
        type = "string",
        required = false,
    } },
    { azure_api_version = {
        description = "'api-version' for Azure OpenAI instances.",
        type = "string",
        required = false,
        default = "2023-05-15",
    } },
    { azure_deployment_id = {
        description = "Deployment ID for Azure OpenAI instances.",
        type = "string",
        required = false,
    } },
    { llama2_format = {
        description = "If using llama2 provider, select the upstream message format.",
        type = "string",
        required = false,
        one_of = { "raw", "openai", "ollama" },
    } },
    { mistral_format = {
        description = "If using mistral provider, select the upstream message format.",
        type = "string",
        required = false,
        one_of = { "openai", "ollama" },
    } },
    { upstream_url = typedefs.url {
        description = "Manually specify or override the full URL to the AI operation endpoints, when calling (self-)hosted models, or for running via a private endpoint.",
        required = false,
    } },
    { upstream_path = {
        description = "Manually specify or override the AI operation path, used when e.g. using the 'preserve' route_type.",
        type = "string",
        required = false,
    } },
    { gemini = gemini_options },
    { bedrock = bedrock_options },
    { huggingface = huggingface_options },
  },
}

local model = {
  type = "record",
  required = true,
  fields = {
    { provider = {
        description = "AI provider request format - Kong translates requests to and from the specified backend compatible formats.",
        type = "string",
        required = true,
        one_of = { "openai", "azure", "anthropic", "cohere", "mistral", "llama2", "gemini", "bedrock", "huggingface" },
    } },
    { name = {
        description = "Model name to execute.",
        type = "string",
        required = false,
    } },
    { options = model_options },
  },
}

local logging = {
  type = "record",
  required = true,
  fields = {
    { log_statistics = {
        description = "If enabled and supported by the driver, will add model usage and token metrics into the Kong log plugin(s) output.",
        type = "boolean",
        required = true,
        default = false,
    } },
    { log_payloads = {
        description = "If enabled, will log the request and response body into the Kong log plugin(s) output.",
        type = "boolean",
        required = true,
        default = false,
    } },
  },
}

-- Route types whose statistics a provider cannot report (Kong's UNSUPPORTED_LOG_STATISTICS).
local NO_STATISTICS = {
  ["llm/v1/completions"] = { anthropic = true },
}

local function statistics_supported(llm)
  local providers = NO_STATISTICS[llm.route_type]
  if llm.logging.log_statistics and providers and providers[llm.model.provider] then
    return nil, string.format("%s does not support statistics when route_type is %s",
                              llm.model.provider, llm.route_type)
  end
  return true
end

-- "must set <field> for <who>" when the provider is one of `providers` (Kong's chain of
-- `conditional_at_least_one_of` checks, one per option a provider needs).
local function provider_needs(providers, option, who)
  return { conditional_at_least_one_of = {
    if_field = "model.provider",
    if_match = { one_of = providers },
    then_at_least_one_of = { option },
    then_err = "must set %s for " .. who,
  } }
end

return {
  type = "record",
  fields = {
    { route_type = {
        description = "The model's operation implementation, for this provider. Set to `preserve` to pass through without transformation.",
        type = "string",
        required = true,
        one_of = { "llm/v1/chat", "llm/v1/completions", "preserve" },
    } },
    { auth = auth },
    { model = model },
    { logging = logging },
  },
  entity_checks = {
    { conditional = {
        if_field = "model.provider",
        if_match = { one_of = { "bedrock", "gemini" } },
        then_field = "auth.allow_override",
        then_match = { eq = false },
        then_err = "bedrock and gemini only support auth.allow_override = false",
    } },
    { mutually_required = { "auth.header_name", "auth.header_value" } },
    { mutually_required = { "auth.param_name", "auth.param_value", "auth.param_location" } },
    provider_needs({ "llama2" }, "model.options.llama2_format", "llama2 provider"),
    provider_needs({ "mistral" }, "model.options.mistral_format", "mistral provider"),
    provider_needs({ "anthropic" }, "model.options.anthropic_version", "anthropic provider"),
    provider_needs({ "azure" }, "model.options.azure_instance", "azure provider"),
    provider_needs({ "azure" }, "model.options.azure_api_version", "azure provider"),
    provider_needs({ "azure" }, "model.options.azure_deployment_id", "azure provider"),
    provider_needs({ "llama2" }, "model.options.upstream_url", "self-hosted providers/models"),
    { custom_entity_check = {
        field_sources = { "route_type", "model", "logging" },
        fn = statistics_supported,
    } },
  },
}
