//! Streaming to Python: the generation runs on its own thread and sends each text piece down
//! a channel; the iterator waits for the next piece with the GIL released. Dropping the
//! iterator closes the channel, and the generation stops at its next piece
//! ([`FinishReason::Cancelled`](hulu_model::FinishReason)).

use crate::errors::to_py;
use crate::model::{answer_json, lock};
use crate::parts::{load_turns, PendingTurn};
use hulu_model::batch::CallOptions;
use hulu_model::HuluMed;
use pyo3::exceptions::PyStopIteration;
use pyo3::prelude::*;
use std::ops::ControlFlow;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};

enum Message {
    Piece(String),
    Done(hulu_model::Result<String>),
}

/// An iterator of text pieces; after the last, `result()` holds the answer's JSON.
#[pyclass(module = "hulu._hulu")]
pub struct TextStream {
    // In a mutex only for `Sync` (pyclasses must be); `__next__` has `&mut self`.
    receiver: Mutex<Option<Receiver<Message>>>,
    result: Option<String>,
}

impl TextStream {
    /// Starts the generation on a new thread.
    pub fn start(
        model: Arc<Mutex<HuluMed>>,
        turns: Vec<PendingTurn>,
        options: CallOptions,
    ) -> Self {
        // A few pieces of slack: the model does not wait for a slow reader at every token.
        let (sender, receiver) = sync_channel(64);
        std::thread::spawn(move || {
            let run = || -> hulu_model::Result<String> {
                let turns = load_turns(&turns, &options.read_options())?;
                let model = lock(&model);
                let g = model.generate_stream(
                    &turns,
                    &options.prepare_options(),
                    &options.generate_options(),
                    |piece| match sender.send(Message::Piece(piece.to_string())) {
                        Ok(()) => ControlFlow::Continue(()),
                        Err(_) => ControlFlow::Break(()),
                    },
                )?;
                Ok(answer_json(&g))
            };
            let result = run();
            let _ = sender.send(Message::Done(result));
        });
        TextStream {
            receiver: Mutex::new(Some(receiver)),
            result: None,
        }
    }
}

#[pymethods]
impl TextStream {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&mut self, py: Python<'_>) -> PyResult<String> {
        let slot = self.receiver.get_mut().unwrap_or_else(|p| p.into_inner());
        let Some(receiver) = slot.as_mut() else {
            return Err(PyStopIteration::new_err(()));
        };
        // `move`: the closure must be `Send`, which `&mut Receiver` is and `&Receiver` not.
        let message = py.detach(move || receiver.recv());
        match message {
            Ok(Message::Piece(piece)) => Ok(piece),
            Ok(Message::Done(result)) => {
                *slot = None;
                match result {
                    Ok(json) => {
                        self.result = Some(json);
                        Err(PyStopIteration::new_err(()))
                    }
                    Err(e) => Err(to_py(&e)),
                }
            }
            Err(_) => {
                *slot = None;
                Err(crate::errors::ModelError::new_err(
                    "the generation thread ended without an answer",
                ))
            }
        }
    }

    /// The finished answer's JSON (None until the iterator is exhausted).
    fn result(&self) -> Option<String> {
        self.result.clone()
    }
}
