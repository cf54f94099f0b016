-- Kong 3.10's aws-lambda plugin: Kong/kong kong/plugins/aws-lambda/schema.lua (3.x with
-- descriptions, `disable_https`, `empty_arrays_mode` and the proxy_url scheme check) and
-- the configuration reference app/_schemas/gateway/plugins/3.10/AwsLambda.json of
-- Kong/developer.konghq.com, which lists the same fields and defaults.
local typedefs = require "kong.db.schema.typedefs"

-- `encrypted` is Kong Enterprise's keyring; it changes nothing in validation.
local function secret(description)
  return { description = description, type = "string", encrypted = true, referenceable = true }
end

local function flag(default, description)
  return { description = description, type = "boolean", default = default }
end

-- Kong: a proxy is reached over plain HTTP, any other scheme is refused.
local function proxy_is_http(entity)
  local proxy_url = entity.config and entity.config.proxy_url
  if type(proxy_url) == "string" then
    local scheme = string.match(proxy_url, "^([^:]+)://")
    if scheme and scheme ~= "http" then
      return nil, "proxy_url scheme must be http"
    end
  end
  return true
end

return {
  name = "aws-lambda",
  fields = {
    { protocols = typedefs.protocols_http },
    { config = {
        type = "record",
        fields = {
          { timeout = { description = "An optional timeout in milliseconds when invoking the function.",
                        type = "number", required = true, default = 60000 } },
          { keepalive = { description = "An optional value in milliseconds that defines how long an idle connection lives before being closed.",
                          type = "number", required = true, default = 60000 } },
          { aws_key = secret("The AWS key credential to be used when invoking the function.") },
          { aws_secret = secret("The AWS secret credential to be used when invoking the function. ") },
          { aws_assume_role_arn = secret("The target AWS IAM role ARN used to invoke the Lambda function.") },
          { aws_role_session_name = { description = "The identifier of the assumed role session.",
                                      type = "string", default = "kong" } },
          { aws_sts_endpoint_url = typedefs.url },
          { aws_region = typedefs.host },
          { function_name = { description = "The AWS Lambda function to invoke. Both function name and function ARN (including partial) are supported.",
                              type = "string", required = false } },
          { qualifier = { description = "The qualifier to use when invoking the function.", type = "string" } },
          { invocation_type = { description = "The InvocationType to use when invoking the function. Available types are RequestResponse, Event, DryRun.",
                                type = "string", required = true, default = "RequestResponse",
                                one_of = { "RequestResponse", "Event", "DryRun" } } },
          { log_type = { description = "The LogType to use when invoking the function. By default, None and Tail are supported.",
                         type = "string", required = true, default = "Tail", one_of = { "Tail", "None" } } },
          { host = typedefs.host },
          { port = typedefs.port { default = 443 } },
          { disable_https = { type = "boolean", default = false } },
          { unhandled_status = { description = "The response status code to use (instead of the default 200, 202, or 204) in the case of an Unhandled Function Error.",
                                 type = "integer", between = { 100, 999 } } },
          { forward_request_method = flag(false, "An optional value that defines whether the original HTTP request method verb is sent in the request_method field of the JSON-encoded request.") },
          { forward_request_uri = flag(false, "An optional value that defines whether the original HTTP request URI is sent in the request_uri field of the JSON-encoded request.") },
          { forward_request_headers = flag(false, "An optional value that defines whether the original HTTP request headers are sent as a map in the request_headers field of the JSON-encoded request.") },
          { forward_request_body = flag(false, "An optional value that defines whether the request body is sent in the request_body field of the JSON-encoded request. If the body arguments can be parsed, they are sent in the separate request_body_args field of the request. ") },
          { is_proxy_integration = flag(false, "An optional value that defines whether the response format to receive from the Lambda to this format.") },
          { awsgateway_compatible = flag(false, "An optional value that defines whether the plugin should wrap requests into the Amazon API gateway.") },
          { proxy_url = typedefs.url },
          { skip_large_bodies = flag(true, "An optional value that defines whether Kong should send large bodies that are buffered to disk") },
          { base64_encode_body = flag(true, "An optional value that Base64-encodes the request body.") },
          { aws_imds_protocol_version = { description = "Identifier to select the IMDS protocol version to use: `v1` or `v2`.",
                                          type = "string", required = true, default = "v1", one_of = { "v1", "v2" } } },
          { empty_arrays_mode = { description = "An optional value that defines whether Kong should send empty arrays (returned by Lambda function) as `[]` arrays or `{}` objects in JSON responses. The value `legacy` means Kong will send empty arrays as `{}` objects in response",
                                  type = "string", required = true, default = "legacy", one_of = { "legacy", "correct" } } },
        },
    } },
  },
  entity_checks = {
    { mutually_required = { "config.aws_key", "config.aws_secret" } },
    { custom_entity_check = { field_sources = { "config.proxy_url" }, fn = proxy_is_http } },
  },
}
