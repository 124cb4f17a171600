//! `sigil generate-key-pair` and `sigil public-key`: cosign's key files.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use sigil_core::keys::PrivateKey;
use zeroize::Zeroizing;

#[derive(Debug, clap::Args)]
pub struct GenerateKeyPairArgs {
    /// Write PREFIX.key and PREFIX.pub.
    #[arg(long, default_value = "cosign")]
    pub output_key_prefix: String,
    /// Overwrite existing key files without asking.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, clap::Args)]
pub struct PublicKeyArgs {
    /// The private key file (cosign.key).
    #[arg(long)]
    pub key: PathBuf,
    /// Write the public key here instead of stdout.
    #[arg(long)]
    pub outfile: Option<PathBuf>,
}

/// Where a password comes from, in cosign's order: `COSIGN_PASSWORD` (empty allowed), else a
/// terminal prompt, else all of standard input (taken as-is, as cosign does).
pub fn read_password(confirm: bool) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    if let Some(pw) = std::env::var_os("COSIGN_PASSWORD") {
        let pw = pw
            .into_string()
            .map_err(|_| anyhow::anyhow!("COSIGN_PASSWORD is not valid UTF-8"))?;
        return Ok(Zeroizing::new(pw.into_bytes()));
    }
    if std::io::stdin().is_terminal() {
        let first = Zeroizing::new(
            rpassword::prompt_password("Enter password for private key: ")
                .context("reading the password from the terminal")?,
        );
        if confirm {
            let again = Zeroizing::new(
                rpassword::prompt_password("Enter password for private key again: ")
                    .context("reading the password from the terminal")?,
            );
            if *first != *again {
                bail!("passwords do not match");
            }
        }
        return Ok(Zeroizing::new(first.as_bytes().to_vec()));
    }
    let mut buf = Zeroizing::new(Vec::new());
    std::io::stdin()
        .read_to_end(&mut buf)
        .context("reading the password from standard input")?;
    Ok(buf)
}

/// Loads and decrypts a cosign private key file. The file and the password are read here (a
/// prompt must not interleave with other output); the scrypt KDF (~0.1 s at cosign's
/// parameters) runs on a blocking thread, so a caller that starts this early overlaps it with
/// its own work.
pub async fn load_private_key(path: &Path) -> anyhow::Result<PrivateKey> {
    let pem =
        std::fs::read(path).with_context(|| format!("reading private key `{}`", path.display()))?;
    let password = read_password(false)?;
    tokio::task::spawn_blocking(move || PrivateKey::from_encrypted_pem(&pem, &password))
        .await
        .context("decrypting the private key")?
        .with_context(|| format!("loading private key `{}`", path.display()))
}

pub async fn generate_key_pair(a: GenerateKeyPairArgs) -> anyhow::Result<ExitCode> {
    let key_path = PathBuf::from(format!("{}.key", a.output_key_prefix));
    let pub_path = PathBuf::from(format!("{}.pub", a.output_key_prefix));
    for p in [&key_path, &pub_path] {
        if p.exists() && !a.force {
            bail!("`{}` already exists; remove it, pass --force, or choose another --output-key-prefix", p.display());
        }
    }
    let password = read_password(true)?;
    let key = PrivateKey::generate_p256().context("generating the key pair")?;
    let encrypted = key
        .to_encrypted_pem(&password)
        .context("encrypting the private key")?;
    write_private(&key_path, encrypted.as_bytes())?;
    std::fs::write(&pub_path, key.public_key().to_pem())
        .with_context(|| format!("writing `{}`", pub_path.display()))?;
    eprintln!("Private key written to {}", key_path.display());
    eprintln!("Public key written to {}", pub_path.display());
    Ok(ExitCode::SUCCESS)
}

/// Writes a private key readable by its owner only (0600), replacing any file atomically.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a file in `{}`", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("writing `{}`", path.display()))?;
    Ok(())
}

pub async fn public_key(a: PublicKeyArgs) -> anyhow::Result<ExitCode> {
    let key = load_private_key(&a.key).await?;
    let pem = key.public_key().to_pem();
    match a.outfile {
        Some(p) => std::fs::write(&p, pem).with_context(|| format!("writing `{}`", p.display()))?,
        None => print!("{pem}"),
    }
    Ok(ExitCode::SUCCESS)
}
