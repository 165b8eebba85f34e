//! `GET /api/v1/openapi.json`: the JSON API described from its own request and answer
//! types (JSON Schemas derived by schemars), so the document cannot drift from the code.

use axum::Json;
use schemars::schema_for;
use serde_json::{Value, json};

use super::check::{CheckAnswer, CheckRequest};
use super::json::{Accepted, ErrorBody, MessageStatus, QuestionAccepted, QuestionRequest, QuestionStatus, SendRequest};

pub const MESSAGES: &str = "/api/v1/messages";
pub const MESSAGE: &str = "/api/v1/messages/{id}";
pub const CHECK: &str = "/api/v1/check";
pub const QUESTIONS: &str = "/api/v1/questions";
pub const QUESTION: &str = "/api/v1/questions/{id}";
pub const MEDIA: &str = "/api/v1/media/{id}/{token}";
pub const OPENAPI: &str = "/api/v1/openapi.json";
pub const SENDSMS: &str = "/cgi-bin/sendsms";

fn json_body(schema: &str) -> Value {
    json!({ "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } })
}

fn answer(description: &str, schema: &str) -> Value {
    let mut v = json_body(schema);
    v["description"] = description.into();
    v
}

pub fn document() -> Value {
    let error = |d: &str| answer(d, "Error");
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "sms-bridge gateway",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Send SMS through the bridge's links. A 202 means the message is committed; its states follow by callback.",
        },
        "security": [{ "bearer": [] }],
        "paths": {
            MESSAGES: { "post": {
                "summary": "Send an SMS",
                "requestBody": json_body("SendRequest"),
                "responses": {
                    "202": answer("Committed; it will be sent", "Accepted"),
                    "400": error("Not a message"),
                    "401": error("No valid bearer token"),
                    "403": error("This user may not use that link"),
                    "422": error("Cannot be sent as it is (no such link, not a number, too long)"),
                    "503": error("Not committed; try again"),
                },
            }},
            MESSAGE: { "get": {
                "summary": "A message's status and its parts' outcome",
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "integer" } }],
                "responses": {
                    "200": answer("The message", "MessageStatus"),
                    "401": error("No valid bearer token"),
                    "404": error("No such message of yours"),
                },
            }},
            CHECK: { "post": {
                "summary": "A dry run: what would happen to a message (link, sender, encoding, parts, the policy rule that refuses it), sending nothing",
                "requestBody": json_body("CheckRequest"),
                "responses": {
                    "200": answer("What a send would do", "CheckAnswer"),
                    "400": error("Not a message"),
                    "401": error("No valid bearer token"),
                    "403": error("This user may not use that link"),
                },
            }},
            QUESTIONS: { "post": {
                "summary": "Ask a question: sent when no other to that number is outstanding; the next SMS from it is the answer",
                "requestBody": json_body("QuestionRequest"),
                "responses": {
                    "202": answer("Committed; it will be asked", "QuestionAccepted"),
                    "400": error("Not a question"),
                    "401": error("No valid bearer token"),
                    "403": error("This user may not use that link"),
                    "422": error("Cannot be asked as it is"),
                },
            }},
            QUESTION: { "get": {
                "summary": "A question's state and answer",
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "integer" } }],
                "responses": {
                    "200": answer("The question", "QuestionStatus"),
                    "401": error("No valid bearer token"),
                    "404": error("No such question of yours"),
                },
            }},
            MEDIA: { "get": {
                "summary": "A medium of an MMS received, by the link a webhook or MQTT gave (the token is the credential)",
                "security": [],
                "parameters": [
                    { "name": "id", "in": "path", "required": true, "schema": { "type": "integer" } },
                    { "name": "token", "in": "path", "required": true, "schema": { "type": "string" } },
                ],
                "responses": {
                    "200": { "description": "The medium, with its content type" },
                    "404": { "description": "No such medium, or it was pruned" },
                },
            }},
            OPENAPI: { "get": { "summary": "This document", "security": [], "responses": { "200": { "description": "OpenAPI 3.1" } } } },
            SENDSMS: { "get": {
                "summary": "Kannel's sendsms (username, password, to, text, coding, charset, dlr-mask, dlr-url, …)",
                "security": [],
                "responses": { "202": { "description": "0: Accepted for delivery" }, "400": { "description": "Kannel's error line" }, "403": { "description": "Authorization failed for sendsms" } },
            }},
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "SendRequest": schema_for!(SendRequest),
                "Accepted": schema_for!(Accepted),
                "MessageStatus": schema_for!(MessageStatus),
                "Error": schema_for!(ErrorBody),
                "CheckRequest": schema_for!(CheckRequest),
                "CheckAnswer": schema_for!(CheckAnswer),
                "QuestionRequest": schema_for!(QuestionRequest),
                "QuestionAccepted": schema_for!(QuestionAccepted),
                "QuestionStatus": schema_for!(QuestionStatus),
            },
        },
    })
}

pub(super) async fn get() -> Json<Value> {
    Json(document())
}
