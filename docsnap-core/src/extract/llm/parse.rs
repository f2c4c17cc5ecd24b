//! Defensive reading of a model's answer: the first usable JSON object in it.

use serde_json::Value;

/// How many `{` positions are tried as the start of the JSON object, which
/// bounds the work on an answer full of braces.
const MAX_CANDIDATES: usize = 32;

/// Finds and parses the JSON object in a model's answer.
///
/// Drops reasoning before a closing `</think>` and prefers the inside of a
/// Markdown code fence, then takes the first balanced `{...}` that parses,
/// if need be after removing trailing commas. The error says what was wrong
/// without quoting the answer.
pub fn parse_model_json(answer: &str) -> Result<Value, String> {
    let answer = strip_reasoning(answer);
    let text = fenced_block(answer).unwrap_or(answer);

    let mut first_error = None;
    for candidate in object_candidates(text).take(MAX_CANDIDATES) {
        match serde_json::from_str::<Value>(candidate) {
            Ok(value) => return Ok(value),
            Err(error) => {
                if let Ok(value) = serde_json::from_str::<Value>(&remove_trailing_commas(candidate))
                {
                    return Ok(value);
                }
                first_error.get_or_insert_with(|| error.to_string());
            }
        }
    }

    match first_error {
        Some(error) => Err(format!("the JSON object in the answer is invalid: {error}")),
        None => Err("the answer contains no complete JSON object".to_owned()),
    }
}

/// Returns the text after the last `</think>`, because reasoning models put
/// their thoughts first; an unclosed `<think>` cuts the answer there.
fn strip_reasoning(answer: &str) -> &str {
    let after_thoughts = match answer.rfind("</think>") {
        Some(end) => &answer[end + "</think>".len()..],
        None => answer,
    };
    match after_thoughts.find("<think>") {
        Some(start) => &after_thoughts[..start],
        None => after_thoughts,
    }
}

/// Returns the inside of the first ``` fence that holds a `{`.
fn fenced_block(text: &str) -> Option<&str> {
    let mut rest = text;
    while let Some(open) = rest.find("```") {
        let after_open = &rest[open + 3..];
        // The rest of the opening line is a language tag such as `json`.
        let body_start = after_open.find('\n').map_or(0, |newline| newline + 1);
        let body = &after_open[body_start..];
        let close = body.find("```")?;
        if body[..close].contains('{') {
            return Some(&body[..close]);
        }
        rest = &body[close + 3..];
    }
    None
}

/// Yields each balanced `{...}` slice, starting at successive `{` positions.
/// Braces inside JSON strings do not count.
fn object_candidates(text: &str) -> impl Iterator<Item = &str> {
    text.char_indices()
        .filter(|&(_, c)| c == '{')
        .filter_map(move |(start, _)| {
            balanced_end(&text[start..]).map(|end| &text[start..start + end])
        })
}

/// Returns the byte length of the balanced object at the start of `text`.
fn balanced_end(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (index, c) in text.char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' | '[' => depth += 1,
            '}' | ']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return (c == '}').then_some(index + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// Removes commas directly before `}` or `]` outside strings.
fn remove_trailing_commas(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut repaired = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for (index, &c) in chars.iter().enumerate() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if c == ',' {
            let next = chars[index + 1..].iter().find(|c| !c.is_whitespace());
            if matches!(next, Some('}' | ']')) {
                continue;
            }
        }
        repaired.push(c);
    }
    repaired
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn plain_object() {
        assert_eq!(
            parse_model_json(r#"{"a": "b"}"#).unwrap(),
            json!({"a": "b"})
        );
    }

    #[test]
    fn fenced_object_with_prose() {
        let answer = "Here it is:\n```json\n{\"a\": {\"b\": 1}}\n```\nHope {this} helps.";
        assert_eq!(parse_model_json(answer).unwrap(), json!({"a": {"b": 1}}));
    }

    #[test]
    fn reasoning_is_dropped() {
        let answer = "<think>The user wants {\"a\": 0}, so...</think>\n{\"a\": 1}";
        assert_eq!(parse_model_json(answer).unwrap(), json!({"a": 1}));
    }

    #[test]
    fn braces_inside_strings_are_ignored() {
        let answer = r#"Result: {"a": "x } y { \" }", "b": [1, {"c": "]"}]} trailing }"#;
        assert_eq!(
            parse_model_json(answer).unwrap(),
            json!({"a": "x } y { \" }", "b": [1, {"c": "]"}]})
        );
    }

    #[test]
    fn trailing_commas_are_repaired() {
        let answer = "{\"a\": [1, 2,], \"b\": \"x,}\",\n}";
        assert_eq!(
            parse_model_json(answer).unwrap(),
            json!({"a": [1, 2], "b": "x,}"})
        );
    }

    #[test]
    fn later_candidate_is_tried() {
        let answer = "Use {braces} like this: {\"a\": 1}";
        assert_eq!(parse_model_json(answer).unwrap(), json!({"a": 1}));
    }

    #[test]
    fn unusable_answers_are_errors() {
        assert!(
            parse_model_json("I cannot help with that.")
                .unwrap_err()
                .contains("no complete JSON object")
        );
        assert!(
            parse_model_json("{\"a\": ")
                .unwrap_err()
                .contains("no complete JSON object")
        );
        assert!(parse_model_json("{a: 1}").unwrap_err().contains("invalid"));
        assert!(
            parse_model_json("<think>{\"a\": 1}")
                .unwrap_err()
                .contains("no complete")
        );
    }
}
