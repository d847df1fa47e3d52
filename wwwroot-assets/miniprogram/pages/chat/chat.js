// The chat page: one ChatPortal.Client over wx.connectSocket. It reconnects with backoff, catches up
// from the last message seen and re-sends unacknowledged messages by itself.
const ChatPortal = require('../../utils/chatportal.js');
const config = require('../../utils/config.js');

function getToken() {
  if (!config.name) return Promise.resolve(null);
  const saved = wx.getStorageSync('chatportal.token');
  if (saved) return Promise.resolve(saved);
  return new Promise((resolve, reject) => {
    wx.request({
      url: config.baseUrl + '/api/auth/token',
      method: 'POST',
      header: { 'content-type': 'application/json' },
      data: { name: config.name, password: config.password, label: 'mini-program' },
      success(res) {
        if (res.statusCode === 200) {
          wx.setStorageSync('chatportal.token', res.data.token);
          resolve(res.data.token);
        } else {
          reject(new Error((res.data && res.data.message) || 'sign-in failed'));
        }
      },
      fail: reject,
    });
  });
}

Page({
  data: { status: 'connecting', me: '', messages: [], draft: '', typing: '', bottom: 'end' },

  onLoad() {
    const client = new ChatPortal.Client({
      url: config.socketUrl,
      socket: ChatPortal.wxSocket(wx),
      rooms: [config.room],
      auth: () => getToken().then(token => (token ? { token } : { guest: true })),
      storage: { get: k => wx.getStorageSync(k), set: (k, v) => wx.setStorageSync(k, v) },
    });
    this.client = client;
    client.on('state', s => this.setData({ status: s }));
    client.on('welcome', w => this.setData({ me: w.user.name }));
    client.on('joined', () => {
      if (this.data.messages.length > 0) return;
      client.history(config.room, null, 30).then(h => h.messages.forEach(m => this.show(m)));
    });
    client.on('message', e => this.show(e.message));
    client.on('message_edited', e => this.update(e.message_id, { text: e.text }));
    client.on('message_deleted', e => this.update(e.message_id, { deleted: true }));
    client.on('typing', t => {
      this.setData({ typing: t.user.name + ' 正在输入…' });
      clearTimeout(this.typingTimer);
      this.typingTimer = setTimeout(() => this.setData({ typing: '' }), 3000);
    });
    client.on('stopped', d => {
      wx.removeStorageSync('chatportal.token'); // revoked or invalid: sign in again next time
      wx.showToast({ title: '会话已结束 ' + d.reason, icon: 'none' });
    });
    client.connect();
  },

  onUnload() {
    if (this.client) this.client.close();
  },

  show(m) {
    if (this.data.messages.some(x => x.id === m.id)) return;
    const base = config.baseUrl.replace(/\/$/, '');
    const item = {
      id: m.id,
      name: m.user.name,
      text: m.text,
      deleted: !!m.deleted,
      mine: !!(this.client.user && m.user.id === this.client.user.id),
      image: m.image ? (m.image.url.indexOf('http') === 0 ? m.image.url : base + m.image.url) : '',
    };
    const list = this.data.messages.concat([item]).sort((a, b) => a.id - b.id).slice(-300);
    this.setData({ messages: list, bottom: 'm' + list[list.length - 1].id });
  },

  update(id, change) {
    const i = this.data.messages.findIndex(x => x.id === id);
    if (i >= 0) this.setData({ ['messages[' + i + ']']: Object.assign({}, this.data.messages[i], change) });
  },

  onInput(e) {
    this.setData({ draft: e.detail.value });
    this.client.typing(config.room);
  },

  send() {
    const text = this.data.draft.trim();
    if (!text) return;
    this.setData({ draft: '' });
    this.client.send(config.room, text).catch(err => wx.showToast({ title: '未发送: ' + (err.code || err.message), icon: 'none' }));
  },

  pickImage() {
    wx.chooseMedia({
      count: 1,
      mediaType: ['image'],
      success: res => {
        const path = res.tempFiles[0].tempFilePath;
        wx.getFileSystemManager().readFile({
          filePath: path,
          success: file => this.client.sendImage(config.room, file.data)
            .catch(err => wx.showToast({ title: '图片未发送: ' + (err.code || err.message), icon: 'none' })),
        });
      },
    });
  },

  preview(e) {
    wx.previewImage({ urls: [e.currentTarget.dataset.src] });
  },
});
