//! A body that stops with an error once it has carried more bytes than its cap, or once its
//! deadline passes.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use crate::secrets::ResponseScrub;
use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame};
use tokio::time::{Instant, Sleep};
use wasmtime_wasi_http::Error;

/// Which way a capped body flows, for the error it ends with.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Side {
    /// Guest to server.
    Request,
    /// Server to guest.
    Response,
}

/// Passes `inner` through until `cap` bytes of data, then fails with the side's body-size error;
/// fails with a timeout once `deadline` passes or when no frame arrives within `between`.
pub(crate) struct Capped<B> {
    inner: B,
    side: Side,
    cap: u64,
    seen: u64,
    deadline: Option<Pin<Box<Sleep>>>,
    between: Option<(Duration, Pin<Box<Sleep>>)>,
    done: bool,
}

impl<B> Capped<B> {
    pub(crate) fn new(inner: B, side: Side, cap: u64) -> Capped<B> {
        Capped {
            inner,
            side,
            cap,
            seen: 0,
            deadline: None,
            between: None,
            done: false,
        }
    }

    /// Ends the body with a timeout at `deadline`, and when a frame takes longer than
    /// `between` to arrive.
    pub(crate) fn with_deadline(mut self, deadline: Instant, between: Option<Duration>) -> Self {
        self.deadline = Some(Box::pin(tokio::time::sleep_until(deadline)));
        self.between = between.map(|d| (d, Box::pin(tokio::time::sleep(d))));
        self
    }

    fn fail(&mut self, err: Error) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        self.done = true;
        Poll::Ready(Some(Err(err)))
    }
}

impl<B> Body for Capped<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Error>,
{
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        let timed_out = this
            .deadline
            .as_mut()
            .is_some_and(|d| d.as_mut().poll(cx).is_ready())
            || this
                .between
                .as_mut()
                .is_some_and(|(_, d)| d.as_mut().poll(cx).is_ready());
        if timed_out {
            return this.fail(match this.side {
                Side::Request => Error::ConnectionWriteTimeout,
                Side::Response => Error::ConnectionReadTimeout,
            });
        }
        match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
            None => {
                this.done = true;
                Poll::Ready(None)
            }
            Some(Err(err)) => this.fail(err.into()),
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    this.seen = this.seen.saturating_add(data.len() as u64);
                    if this.seen > this.cap {
                        return this.fail(match this.side {
                            Side::Request => Error::HttpRequestBodySize(Some(this.seen)),
                            Side::Response => Error::HttpResponseBodySize(Some(this.seen)),
                        });
                    }
                }
                if let Some((between, sleep)) = this.between.as_mut() {
                    sleep.as_mut().reset(Instant::now() + *between);
                }
                Poll::Ready(Some(Ok(frame)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }
}

/// Passes `inner` through a [`Scrubber`]: every data byte the guest reads has been scrubbed of
/// the call's secret values, including values split across frames (the scrubber holds back a
/// tail until the next frame or the end). Trailer values are scrubbed too.
pub(crate) struct Scrubbed<B> {
    inner: B,
    scrub: ResponseScrub,
    /// Trailers waiting behind the held-back tail.
    trailers: Option<HeaderMap>,
    done: bool,
}

impl<B> Scrubbed<B> {
    pub(crate) fn new(inner: B, scrub: ResponseScrub) -> Scrubbed<B> {
        Scrubbed {
            inner,
            scrub,
            trailers: None,
            done: false,
        }
    }
}

impl<B> Body for Scrubbed<B>
where
    B: Body<Data = Bytes, Error = Error> + Unpin,
{
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        loop {
            if let Some(trailers) = this.trailers.take() {
                this.done = true;
                return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
            }
            if this.done {
                return Poll::Ready(None);
            }
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                None => {
                    this.done = true;
                    let rest = this.scrub.body.finish();
                    if rest.is_empty() {
                        return Poll::Ready(None);
                    }
                    return Poll::Ready(Some(Ok(Frame::data(Bytes::from(rest)))));
                }
                Some(Err(err)) => {
                    // Whatever was held back is dropped with the error.
                    let _ = this.scrub.body.finish();
                    this.done = true;
                    return Poll::Ready(Some(Err(err)));
                }
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => {
                        let out = this.scrub.body.scrub(&data);
                        if !out.is_empty() {
                            return Poll::Ready(Some(Ok(Frame::data(Bytes::from(out)))));
                        }
                    }
                    Err(frame) => {
                        let Ok(mut trailers) = frame.into_trailers() else {
                            continue;
                        };
                        this.scrub.headers(&mut trailers);
                        this.trailers = Some(trailers);
                        let rest = this.scrub.body.finish();
                        if !rest.is_empty() {
                            return Poll::Ready(Some(Ok(Frame::data(Bytes::from(rest)))));
                        }
                    }
                },
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done && self.trailers.is_none()
    }
}
